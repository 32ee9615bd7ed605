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
  if (q.verdict.length) clauses.push(`w.verdict IN (${q.verdict.map((v, k) => bind(`verdict${k}`, v)).join(', ')})`);
  if (q.session.length) clauses.push(`w.session IN (${q.session.map((v, k) => bind(`session${k}`, v)).join(', ')})`);
  if (q.min_score !== undefined) clauses.push(`w.match_score >= ${bind('min_score', q.min_score)}`);
  if (q.max_score !== undefined) clauses.push(`w.match_score <= ${bind('max_score', q.max_score)}`);
  if (q.labelled) clauses.push(`w.image_id ${q.labelled === 'true' ? '' : 'NOT '}IN (SELECT image_id FROM labels)`);
  if (q.favourite) clauses.push(`coalesce((SELECT f.favourite FROM (${latestFavourites}) f WHERE f.image_id = w.image_id), false) = ${q.favourite === 'true'}`);
  return { sql: clauses.length ? `WHERE ${clauses.join(' AND ')}` : '', params };
}

/** Newest, best or least certain first by default; the image id breaks every tie, so pages never overlap. */
export function orderOf(q: ImageQuery): string {
  const descending = (q.order ?? (q.sort === 'seed' || q.sort === 'uncertain' ? 'asc' : 'desc')) === 'desc';
  const dir = descending ? 'DESC' : 'ASC';
  const keys: Record<ImageQuery['sort'], string> = {
    date: `w.made_order ${dir}`,
    score: `w.match_score ${dir} NULLS LAST`,
    seed: `w.seed ${dir}`,
    // models that disagree first, then the smallest zero-shot margin
    uncertain: `w.disagree ${descending ? 'ASC' : 'DESC'}, w.certainty ${dir} NULLS LAST`,
  };
  return `${keys[q.sort]}, w.image_id`;
}
