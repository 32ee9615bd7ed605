// The union of both origins as SQL over the input tables, so that no full row of 100,000
// images or prompts is ever held in JS. Which imported copies stay is decided here over a
// few short columns (the copy that sorts first by path, as a person would pick it), and
// DuckDB hands the kept rows over a chunk at a time.
import { dirname } from 'node:path';
import type { z } from 'zod';
import type { Row, StageContext } from '../../src/stage.js';
import { columnsOf } from '../../src/table-schema.js';
import { imageRow, promptRow } from '../../schemas/tables.js';

/** The Parquet files of catalog's table inputs, by input name; an input the pipeline does not wire is absent. */
export interface CatalogSources {
  rendered?: string;
  planned?: string;
  imported?: string;
  imported_prompts?: string;
}

/** Row numbers (in their input tables) of the imported images and prompts kept, in the order they are written. */
export interface KeptImports {
  images: number[];
  prompts: number[];
}

const columnList = (schema: z.ZodObject<z.ZodRawShape>) => columnsOf(schema).map(([name]) => `"${name}"`).join(', ');
const listParam = (values: (string | number)[]) => `[${values.map((v) => (typeof v === 'number' ? v : `"${v}"`)).join(',')}]`;
const notPruned = "image_id NOT IN (SELECT unnest($pruned::VARCHAR[]))";

interface ImportedImage {
  rn: number;
  image_id: string;
  path: string;
  prompt_id: string;
  session_dir: string;
  generated: boolean;
}

/**
 * An imported image stays unless it was pruned, a generated image has its content (sdloop
 * knows that one's prompt for sure) or a copy earlier by path stays. Each kept copy
 * recovered its own prompt row: of a prompt's rows, the first read from the folder of the
 * prompt's last kept copy stays.
 */
export async function keptImports(ctx: StageContext, sources: CatalogSources, pruned: Set<string>): Promise<KeptImports> {
  if (!sources.imported) return { images: [], prompts: [] };
  const generated = sources.rendered ? "image_id IN (SELECT image_id FROM read_parquet($rendered) WHERE image_id <> '')" : 'false';
  const images = await ctx.sql<ImportedImage>(
    `SELECT file_row_number AS rn, image_id, path, prompt_id, session_dir, ${generated} AS generated
     FROM read_parquet($imported, file_row_number = true) ORDER BY rn`,
    { imported: sources.imported, ...(sources.rendered ? { rendered: sources.rendered } : {}) },
  );
  const seen = new Set<string>();
  const keptFolder = new Map<string, string>();
  const kept: KeptImports = { images: [], prompts: [] };
  for (const image of images.sort((a, b) => a.path.localeCompare(b.path))) {
    if (image.generated || seen.has(image.image_id) || pruned.has(image.image_id)) continue;
    seen.add(image.image_id);
    keptFolder.set(image.prompt_id, image.session_dir);
    kept.images.push(image.rn);
  }
  if (!sources.imported_prompts || keptFolder.size === 0) return kept;
  const prompts = await ctx.sql<{ rn: number; prompt_id: string; source: string }>(
    'SELECT file_row_number AS rn, prompt_id, source FROM read_parquet($prompts, file_row_number = true) ORDER BY rn',
    { prompts: sources.imported_prompts },
  );
  for (const prompt of prompts) {
    const folder = keptFolder.get(prompt.prompt_id);
    if (folder === undefined || dirname(prompt.source) !== folder) continue;
    keptFolder.delete(prompt.prompt_id);
    kept.prompts.push(prompt.rn);
  }
  return kept;
}

/** Generated images less the pruned ones: how many the images table will hold of them. */
export async function generatedCount(ctx: StageContext, sources: CatalogSources, pruned: Set<string>): Promise<number> {
  if (!sources.rendered) return 0;
  const [row] = await ctx.sql<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM read_parquet($rendered) WHERE ${notPruned}`, { rendered: sources.rendered, pruned: listParam([...pruned]) });
  return row!.n;
}

/** The kept rows of an imported table, in the order `rows` lists their row numbers. */
const keptRowsQuery = () => `
  SELECT t.* EXCLUDE (file_row_number) FROM read_parquet($table, file_row_number = true) t
  JOIN (SELECT unnest(l) AS rn, unnest(range(len(l))) AS ord FROM (SELECT $rows::BIGINT[] AS l)) k ON t.file_row_number = k.rn
  ORDER BY k.ord`;

/** Generated images first, in their table's order (a plain scan keeps it), then the kept imported ones. */
export async function* catalogImages(ctx: StageContext, sources: CatalogSources, pruned: Set<string>, kept: number[]): AsyncGenerator<Row[]> {
  if (sources.rendered) {
    const query = `SELECT ${columnList(imageRow)}, 'generated' AS origin, false AS annotated FROM read_parquet($rendered) WHERE ${notPruned}`;
    yield* ctx.sqlChunks(query, { rendered: sources.rendered, pruned: listParam([...pruned]) });
  }
  if (sources.imported && kept.length > 0) yield* ctx.sqlChunks(keptRowsQuery(), { table: sources.imported, rows: listParam(kept) });
}

/** Planned prompts first, in plan order, then the imported prompt rows kept. */
export async function* catalogPrompts(ctx: StageContext, sources: CatalogSources, kept: number[]): AsyncGenerator<Row[]> {
  if (sources.planned) {
    yield* ctx.sqlChunks(`SELECT ${columnList(promptRow)}, 'generated' AS origin, '[]'::JSON AS unresolved FROM read_parquet($planned)`, { planned: sources.planned });
  }
  if (sources.imported_prompts && kept.length > 0) yield* ctx.sqlChunks(keptRowsQuery(), { table: sources.imported_prompts, rows: listParam(kept) });
}
