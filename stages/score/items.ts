// What score reads of the catalog: per image, its id, prompt, status and the variations
// its prompt asked for. Only those columns leave DuckDB: the full rows of 100,000 images
// and prompts (params, manifests, paths) are what a run would otherwise hold at once.
import { resolve } from 'node:path';
import { StageFailure } from '../../src/errors.js';
import type { InputArtifact, StageContext, TableInput } from '../../src/stage.js';
import type { PromptRow } from '../../schemas/tables.js';
import { alternativesOf, readAlternatives, type Alternatives } from '../resolve/alternatives.js';

/** One image with what its prompt asked for. */
export interface ScoreStageItem extends Record<string, unknown> {
  image_id: string;
  prompt_id: string;
  status: 'ok' | 'blank';
  variations: Record<string, Alternatives>;
}

export function requireTable(inputs: Record<string, InputArtifact>, name: string): TableInput {
  const input = inputs[name];
  if (input?.kind !== 'table') throw new StageFailure('score', `expected a table input named ${name} in pipeline.yaml`);
  return input;
}

// Images in table order, each with its prompt's variations (null when the prompts table
// lacks it); of prompt rows sharing an id, the last one counts.
const itemsQuery = `
  SELECT i.image_id, i.prompt_id, i.status, p.variations::VARCHAR AS variations
  FROM read_parquet($images, file_row_number = true) i
  LEFT JOIN (
    SELECT prompt_id, variations, file_row_number FROM read_parquet($prompts, file_row_number = true)
    QUALIFY row_number() OVER (PARTITION BY prompt_id ORDER BY file_row_number DESC) = 1
  ) p USING (prompt_id)
  WHERE i.status <> 'failed' AND i.image_id <> ''
  ORDER BY i.file_row_number`;

interface ItemRow {
  image_id: string;
  prompt_id: string;
  status: 'ok' | 'blank';
  variations: string | null;
}

/** Every image to score, in the images table's order; an image whose prompt is missing is warned about and left out. */
export async function scoreItems(ctx: StageContext): Promise<ScoreStageItem[]> {
  const images = requireTable(ctx.inputs, 'images');
  const prompts = requireTable(ctx.inputs, 'prompts');
  const alternatives = await readAlternatives(ctx.inputs);
  const items: ScoreStageItem[] = [];
  // A chunk at a time: the result of 100,000 rows is never held whole, in DuckDB or here.
  for await (const rows of ctx.sqlChunks<ItemRow>(itemsQuery, { images: images.path, prompts: prompts.path })) {
    for (const row of rows) {
      if (row.variations === null) {
        ctx.warn(`image ${row.image_id} names prompt ${row.prompt_id}, which the prompts table lacks; not scored`);
        continue;
      }
      const prompt = { prompt_id: row.prompt_id, variations: JSON.parse(row.variations) as PromptRow['variations'] };
      items.push({ image_id: row.image_id, prompt_id: row.prompt_id, status: row.status, variations: alternativesOf(prompt, alternatives) });
    }
  }
  return items;
}

/**
 * Imported images are read where the user keeps them (they are never copied into the
 * store). Looked up once per run rather than carried in the item, so an image keeps its
 * scores when its folder is moved.
 */
const importedByInputs = new WeakMap<object, Promise<Map<string, string>>>();
export function importedSources(ctx: StageContext): Promise<Map<string, string>> {
  let found = importedByInputs.get(ctx.inputs);
  if (!found) {
    // Stored relative to the project where ingest could (a moved project still finds them).
    found = importedPaths(ctx).then((rows) => new Map(rows.map((r) => [r.image_id, resolve(ctx.projectDir, r.path)])));
    importedByInputs.set(ctx.inputs, found);
  }
  return found;
}

/** Imported images' ids and paths; none when the images table has no origin column (generate's own rows). */
async function importedPaths(ctx: StageContext): Promise<{ image_id: string; path: string }[]> {
  const images = requireTable(ctx.inputs, 'images').path;
  const [origin] = await ctx.sql("SELECT 1 FROM parquet_schema($images) WHERE name = 'origin'", { images });
  if (!origin) return [];
  return ctx.sql("SELECT image_id, path FROM read_parquet($images) WHERE origin = 'imported'", { images });
}
