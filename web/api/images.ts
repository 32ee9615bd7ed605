// GET /api/images (a filtered, sorted page), GET /api/images/{id} (one image with its
// prompt, PNG info, label history and its neighbours in the filtered set) and GET
// /api/facets (what the filters can choose from).
import { readFile } from 'node:fs/promises';
import type { Catalog } from '../catalog.js';
import { readPngText } from '../../adapters/png-text.js';
import type { ImageQuery } from '../../schemas/web.js';
import { currentTags, latestFavourites, latestLabels, orderOf, whereOf, type Where } from './filters.js';
import { zoneOf } from '../zones.js';

export interface AxisView {
  axis: string;
  value: string;
  /** what a person reads: the key, or an inline value's text */
  value_text: string;
  p_target: number;
  margin: number;
  top_value: string;
  probe_value: string | null;
  p_probe: number | null;
  label: string | null;
  /** what the score was read from: 'full', 'zone:<name>', 'vqa' or 'blank' */
  method: string | null;
}

export interface ImageItem {
  image_id: string;
  session: string;
  prompt: string;
  seed: number;
  verdict: string | null;
  match_score: number | null;
  /** the weakest axis's margin */
  margin: number | null;
  /** when its session started (YYYY-MM-DD HH:MM:SS), when the folder name says */
  made_at: string | null;
  favourite: boolean;
  flagged: boolean;
  rejected: boolean;
  tags: string[];
  axes: AxisView[];
  thumb_url: string;
  image_url: string;
}

function pageSql(where: Where, order: string, extra = ''): string {
  const and = where.sql ? `${where.sql} ${extra ? `AND ${extra}` : ''}` : extra ? `WHERE ${extra}` : '';
  return `
    WITH w AS (SELECT w.* FROM web_images w ${and} ORDER BY ${order} LIMIT $limit OFFSET $offset),
    ax AS (
      SELECT a.image_id, list({'axis': a.axis, 'value': a.value, 'value_text': a.value_text, 'p_target': a.p_target, 'margin': a.margin, 'top_value': a.top_value,
                               'probe_value': a.probe_value, 'p_probe': a.p_probe, 'label': l.value, 'method': a.method} ORDER BY a.axis) AS axes
      FROM web_axes a LEFT JOIN (${latestLabels}) l USING (image_id, axis)
      WHERE a.image_id IN (SELECT image_id FROM w) GROUP BY a.image_id),
    tg AS (SELECT image_id, list(tag ORDER BY tag) AS tags FROM (${currentTags}) WHERE image_id IN (SELECT image_id FROM w) GROUP BY image_id)
    SELECT w.image_id, w.session, w.prompt, w.seed, w.verdict, w.match_score, coalesce(ax.axes, []) AS axes, coalesce(tg.tags, []) AS tags,
      coalesce(f.favourite, false) AS favourite, w.image_id IN (SELECT image_id FROM labels WHERE reject) AS rejected,
      w.negative_prompt, w.source, w.width, w.height, w.model_name, w.loras, w.filename, w.status, w.path, w.theme, w.margin, w.flagged,
      strftime(w.made_at, '%Y-%m-%d %H:%M:%S') AS made_at
    FROM w LEFT JOIN ax USING (image_id) LEFT JOIN tg USING (image_id) LEFT JOIN (${latestFavourites}) f USING (image_id)
    ORDER BY ${order}`;
}

const urls = (id: string) => ({ thumb_url: `/api/images/${id}/thumb`, image_url: `/api/images/${id}/file` });

function toItem(row: Record<string, unknown>): ImageItem {
  const id = String(row.image_id);
  return {
    image_id: id,
    session: String(row.session),
    prompt: String(row.prompt),
    seed: Number(row.seed),
    verdict: (row.verdict as string | null) ?? null,
    match_score: row.match_score === null ? null : Number(row.match_score),
    margin: row.margin === null ? null : Number(row.margin),
    made_at: (row.made_at as string | null) ?? null,
    favourite: Boolean(row.favourite),
    rejected: Boolean(row.rejected),
    flagged: Boolean(row.flagged),
    tags: row.tags as string[],
    axes: row.axes as AxisView[],
    ...urls(id),
  };
}

export async function listImages(catalog: Catalog, q: ImageQuery): Promise<{ total: number; items: ImageItem[] }> {
  const where = whereOf(q);
  const [count] = await catalog.sql<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM web_images w ${where.sql}`, where.params);
  const rows = await catalog.sql(pageSql(where, orderOf(q)), { ...where.params, limit: q.limit, offset: q.offset });
  return { total: count?.n ?? 0, items: rows.map(toItem) };
}

/** Where the image stands in the filtered, sorted set: its position and the ids either side. */
async function neighbours(catalog: Catalog, q: ImageQuery, id: string) {
  const where = whereOf(q);
  const rows = await catalog.sql<{ prev: string | null; next: string | null; position: number; total: number }>(
    `SELECT prev, next, position::INTEGER AS position, total::INTEGER AS total FROM (
       SELECT w.image_id, lag(w.image_id) OVER o AS prev, lead(w.image_id) OVER o AS next,
         row_number() OVER o AS position, count(*) OVER () AS total
       FROM web_images w ${where.sql} WINDOW o AS (ORDER BY ${orderOf(q)})) WHERE image_id = $id`,
    { ...where.params, id },
  );
  return rows[0] ?? null;
}

async function pngInfo(path: string): Promise<Record<string, string>> {
  try {
    return readPngText(await readFile(path));
  } catch {
    return {};
  }
}

/** Other renders of the same seed (another prompt, LoRA or model): the comparison that isolates what changed. */
async function sameSeed(catalog: Catalog, id: string, seed: number) {
  const rows = await catalog.sql<{ image_id: string; session: string; prompt: string; verdict: string | null }>(
    `SELECT image_id, session, prompt, verdict FROM web_images WHERE seed = $seed AND image_id <> $id ORDER BY session_dir, filename, image_id LIMIT 12`,
    { seed, id },
  );
  return rows.map((r) => ({ ...r, ...urls(r.image_id) }));
}

export async function imageDetail(catalog: Catalog, q: ImageQuery, id: string) {
  const rows = await catalog.sql(pageSql({ sql: '', params: {} }, 'w.image_id', 'w.image_id = $id'), { id, limit: 1, offset: 0 });
  const row = rows[0];
  if (!row) return null;
  const history = await catalog.sql(
    'SELECT axis, value, reject, created_at FROM labels WHERE image_id = $id ORDER BY created_at',
    { id },
  );
  const { negative_prompt, source, width, height, model_name, loras, filename, status, theme } = row;
  const item = toItem(row);
  return {
    ...item,
    axes: item.axes.map((a) => ({ ...a, zone: zoneOf(a.method, catalog.zones) })),
    negative_prompt, source, width, height, model_name, loras, filename, status, theme,
    png_info: await pngInfo(catalog.fileOf(String(row.path))),
    labels: history,
    neighbours: await neighbours(catalog, q, id),
    same_seed: await sameSeed(catalog, id, Number(row.seed)),
  };
}

/** The path of an image's file, found by its id in the tables: no request names a path. */
export async function imagePath(catalog: Catalog, id: string): Promise<string | null> {
  const [row] = await catalog.sql<{ path: string }>('SELECT path FROM web_images WHERE image_id = $id', { id });
  return row ? catalog.fileOf(row.path) : null;
}

export async function facets(catalog: Catalog) {
  const axes = await catalog.sql<{ axis: string; values: { value: string; text: string; n: number }[] }>(
    `SELECT axis, list({'value': value, 'text': value_text, 'n': n} ORDER BY value) AS values FROM
       (SELECT axis, value, value_text, count(*)::INTEGER AS n FROM web_axes GROUP BY ALL) GROUP BY axis ORDER BY axis`,
  );
  const sessions = await catalog.sql<{ session: string; n: number }>('SELECT session, count(*)::INTEGER AS n FROM web_images GROUP BY 1 ORDER BY 1');
  const counted = (column: string, from = 'web_images') => catalog.sql<{ value: string; n: number }>(
    `SELECT ${column} AS value, count(*)::INTEGER AS n FROM ${from} WHERE ${column} IS NOT NULL GROUP BY 1 ORDER BY 1`);
  const verdicts = (await counted('verdict')).map(({ value, n }) => ({ verdict: value, n }));
  const models = await counted('model_name');
  const themes = await counted('theme');
  const loras = await counted('lora', '(SELECT unnest(lora_names) AS lora FROM web_images)');
  const tags = await counted('tag', `(${currentTags})`);
  const [days] = await catalog.sql<{ first: string | null; last: string | null }>(
    `SELECT strftime(min(made_at), '%Y-%m-%d') AS first, strftime(max(made_at), '%Y-%m-%d') AS last FROM web_images`);
  return { axes, sessions, verdicts, models, themes, loras, tags, days };
}
