// The gallery's filter and order as SQL over the catalog's web_images, with every value
// bound as a parameter. Shared by the page query, the count and prev/next.
import type { ImageQuery } from '../../schemas/web.js';

export interface Where {
  sql: string;
  params: Record<string, unknown>;
}

/** The latest human verdicts: one value per (image, axis), and which images anyone rejected. */
export const latestLabels = `
  SELECT image_id, axis, arg_max(value, created_at) AS value FROM labels
  WHERE NOT reject AND axis IS NOT NULL GROUP BY image_id, axis`;
export const latestFavourites = `SELECT image_id, arg_max(favourite, created_at) AS favourite FROM favourites GROUP BY image_id`;
/** The tags each image has now: the latest row per (image, tag) says on or off. */
export const currentTags = `SELECT image_id, tag FROM tags GROUP BY image_id, tag HAVING arg_max("on", created_at)`;

export function whereOf(q: ImageQuery): Where {
  const params: Record<string, unknown> = {};
  const clauses: string[] = [];
  const bind = (name: string, value: unknown) => {
    params[name] = value;
    return `$${name}`;
  };
  const byAxis = new Map<string, string[]>();
  q.axis.forEach((axis, i) => byAxis.set(axis, [...(byAxis.get(axis) ?? []), q.value[i]!]));
  [...byAxis].forEach(([axis, values], i) => {
    const list = values.map((v, k) => bind(`a${i}v${k}`, v)).join(', ');
    clauses.push(`w.image_id IN (SELECT image_id FROM web_axes WHERE axis = ${bind(`a${i}`, axis)} AND value IN (${list}))`);
  });
  const anyOf = (column: string, name: string, values: string[]) => {
    if (values.length) clauses.push(`${column} IN (${values.map((v, k) => bind(`${name}${k}`, v)).join(', ')})`);
  };
  const range = (column: string, name: string, min: unknown, max: unknown) => {
    if (min !== undefined) clauses.push(`${column} >= ${bind(`min_${name}`, min)}`);
    if (max !== undefined) clauses.push(`${column} <= ${bind(`max_${name}`, max)}`);
  };
  anyOf('w.verdict', 'verdict', q.verdict);
  anyOf('w.session', 'session', q.session);
  anyOf('w.model_name', 'model', q.model);
  anyOf('w.theme', 'theme', q.theme);
  if (q.lora.length) clauses.push(`len(list_intersect(w.lora_names, [${q.lora.map((v, k) => bind(`lora${k}`, v)).join(', ')}])) > 0`);
  if (q.tag.length) clauses.push(`w.image_id IN (SELECT image_id FROM (${currentTags}) WHERE tag IN (${q.tag.map((v, k) => bind(`tag${k}`, v)).join(', ')}))`);
  range('w.match_score', 'score', q.min_score, q.max_score);
  range('w.margin', 'margin', q.min_margin, q.max_margin);
  // a day range: from its first moment to the end of the last day
  if (q.from) clauses.push(`w.made_at >= ${bind('from', q.from)}::DATE`);
  if (q.to) clauses.push(`w.made_at < ${bind('to', q.to)}::DATE + INTERVAL 1 DAY`);
  if (q.labelled) clauses.push(`w.image_id ${q.labelled === 'true' ? '' : 'NOT '}IN (SELECT image_id FROM labels)`);
  if (q.favourite) clauses.push(`coalesce((SELECT f.favourite FROM (${latestFavourites}) f WHERE f.image_id = w.image_id), false) = ${q.favourite === 'true'}`);
  if (q.flagged) clauses.push(`coalesce(w.flagged, false) = ${q.flagged === 'true'}`);
  return { sql: clauses.length ? `WHERE ${clauses.join(' AND ')}` : '', params };
}

/** Newest, best, smallest margin or least certain first by default; the image id breaks every tie, so pages never overlap. */
export function orderOf(q: ImageQuery): string {
  const descending = (q.order ?? (q.sort === 'seed' || q.sort === 'uncertain' || q.sort === 'margin' ? 'asc' : 'desc')) === 'desc';
  const dir = descending ? 'DESC' : 'ASC';
  const keys: Record<ImageQuery['sort'], string> = {
    // the order sessions and files were made in: folders are named by their start time
    date: `w.session_dir ${dir}, w.filename ${dir}`,
    score: `w.match_score ${dir} NULLS LAST`,
    margin: `w.margin ${dir} NULLS LAST`,
    seed: `w.seed ${dir}`,
    // models that disagree first, then the smallest zero-shot margin
    uncertain: `w.disagree ${descending ? 'ASC' : 'DESC'}, w.certainty ${dir} NULLS LAST`,
  };
  return `${keys[q.sort]}, w.image_id`;
}
