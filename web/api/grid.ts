// The value x seed grid of one axis (A1111's X/Y plot, from what was already rendered):
// rows are the axis's values, columns seeds of the image's session, its own seed first.
// A cell shows the render with that value and seed that shares the most other values
// with the image (then the best match), so the axis is what changes along a column;
// a combination nobody rendered is an empty cell.
import type { Catalog } from '../catalog.js';
import { ReviewError } from './reviews.js';

export interface GridCell {
  image_id: string;
  verdict: string | null;
  match_score: number | null;
  /** how many renders have this value and seed (the cell shows one) */
  renders: number;
  thumb_url: string;
}

export interface Grid {
  axis: string;
  values: string[];
  seeds: number[];
  /** cells[row][column]: values by seeds */
  cells: (GridCell | null)[][];
}

async function seedsOf(catalog: Catalog, id: string, axis: string, limit: number): Promise<number[]> {
  // the image's own seed, then the seeds of its session that cover the most values of the axis
  const rows = await catalog.sql<{ seed: number }>(
    `WITH me AS (SELECT session, seed FROM web_images WHERE image_id = $id)
     SELECT w.seed FROM web_images w JOIN web_axes a USING (image_id)
     WHERE w.session = (SELECT session FROM me) AND a.axis = $axis
     GROUP BY w.seed ORDER BY (w.seed = (SELECT seed FROM me)) DESC, count(DISTINCT a.value) DESC, w.seed LIMIT $limit`,
    { id, axis, limit },
  );
  return rows.map((r) => Number(r.seed));
}

export async function valueSeedGrid(catalog: Catalog, id: string, axis: string, seedLimit: number): Promise<Grid> {
  const [own] = await catalog.sql('SELECT value FROM web_axes WHERE image_id = $id AND axis = $axis', { id, axis });
  if (!own) throw new ReviewError(404, `image ${id} has no axis '${axis}'`);
  const seeds = await seedsOf(catalog, id, axis, seedLimit);
  const values = (await catalog.sql<{ value: string }>('SELECT DISTINCT value FROM web_axes WHERE axis = $axis ORDER BY value', { axis })).map((r) => r.value);
  // seeds are integers the tables gave: written into the query, as a list parameter is not bound
  const cells = !seeds.length ? [] : await catalog.sql<{ value: string; seed: number; image_id: string; verdict: string | null; match_score: number | null; renders: number }>(
    `WITH me AS (SELECT session FROM web_images WHERE image_id = $id),
     mine AS (SELECT axis, value FROM web_axes WHERE image_id = $id AND axis <> $axis),
     candidates AS (
       SELECT a.value, w.seed, w.image_id, w.verdict, w.match_score,
         (SELECT count(*) FROM web_axes o JOIN mine m ON o.axis = m.axis AND o.value = m.value WHERE o.image_id = w.image_id) AS shared
       FROM web_images w JOIN web_axes a USING (image_id)
       WHERE a.axis = $axis AND w.session = (SELECT session FROM me) AND w.seed IN (${seeds.map((n) => String(Math.trunc(n))).join(', ')}))
     SELECT value, seed, image_id, verdict, match_score, (count(*) OVER (PARTITION BY value, seed))::INTEGER AS renders FROM candidates
     QUALIFY row_number() OVER (PARTITION BY value, seed ORDER BY (image_id = $id) DESC, shared DESC, match_score DESC NULLS LAST, image_id) = 1`,
    { id, axis },
  );
  const at = new Map(cells.map((c) => [`${c.value}\u0000${Number(c.seed)}`, c]));
  return {
    axis,
    values,
    seeds,
    cells: values.map((value) => seeds.map((seed) => {
      const c = at.get(`${value}\u0000${seed}`);
      return c ? { image_id: c.image_id, verdict: c.verdict, match_score: c.match_score, renders: c.renders, thumb_url: `/api/images/${c.image_id}/thumb` } : null;
    })),
  };
}
