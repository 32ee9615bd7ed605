// A map stage's output tables, put together after its batches: the current items' rows
// from their memo parts, in item order, and the outputs the stage derives from them by
// SQL. Derivations run on every run of the stage, so they must stay cheap: DuckDB over
// the assembled rows, no item code.
import { join, relative } from 'node:path';
import type { z } from 'zod';
import { hashValue } from './hash.js';
import { StageFailure } from './errors.js';
import { columnsOf } from './table-schema.js';
import { copyQueryToParquet, sqlString, tablePath } from './tables.js';
import { appendRows, type State } from './state.js';
import type { MemoEntry } from './memo.js';
import type { MapStage } from './stage.js';
import type { OutputRecord } from './lockfile.js';
import type { Project } from './project.js';

type TableSchema = z.ZodObject<z.ZodRawShape>;

/**
 * The rows of one memoised table for the current items, with their item's memo hash (`_item`)
 * and `_row` giving their order (increasing, not consecutive). Rows are taken only from the part the item's memo row names:
 * an item retried after a failure also has rows in the older part, which other items still use.
 */
function measureQuery(project: Project, name: string, schema: TableSchema, parts: string[], current: string): string {
  const columns = columnsOf(schema);
  if (parts.length === 0) return `SELECT ${columns.map(([n, t]) => `CAST(NULL AS ${t}) AS "${n}"`).join(', ')}, ''::VARCHAR AS _item, 0::BIGINT AS _row WHERE false`;
  const files = parts.map((p) => sqlString(join(project.dir, `${p}.${name}.parquet`))).join(', ');
  const cols = columns.map(([n]) => `p."${n}"`).join(', ');
  const from = `read_parquet([${files}], filename = '_part_file') p JOIN ${current} c ON p._item = c.item AND p._part_file = c.part || ${sqlString(`.${name}.parquet`)}`;
  // Item order, then the item's row order, as one number: a window numbering the rows would hold them all once more.
  return `SELECT ${cols}, p._item, c.ord * 4294967296 + p._ord AS _row FROM ${from}`;
}

async function writeTable(project: Project, state: State, name: string, query: string, hash: string): Promise<OutputRecord> {
  const path = tablePath(project.paths.tables, name, hash);
  await copyQueryToParquet(state, query, path);
  const rows = await state.query<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM read_parquet(${sqlString(path)})`);
  return { kind: 'table', path: relative(project.dir, path), hash, rows: rows[0]!.n };
}

export async function assembleOutputs(
  project: Project,
  state: State,
  stageName: string,
  stage: MapStage,
  params: unknown,
  hashes: string[],
  memo: Map<string, MemoEntry>,
): Promise<Record<string, OutputRecord>> {
  const parts = [...new Set(hashes.map((h) => memo.get(h)!.part))].sort();
  // One table per stage: two independent map stages (run --jobs) finish at the same time.
  const current = `current_items_${hashValue(stageName).slice(0, 12)}`;
  await state.exclusive(async (c) => {
    await c.run(`CREATE OR REPLACE TEMP TABLE ${current} (item VARCHAR, ord BIGINT, part VARCHAR)`);
    await appendRows(c, current, hashes.map((h, i) => [h, i, join(project.dir, memo.get(h)!.part)]));
  });
  const measures: [string, TableSchema][] = stage.measures
    ? Object.entries(stage.measures)
    : Object.entries(stage.outputs).flatMap(([n, d]) => (d.kind === 'table' ? [[n, d.schema] as [string, TableSchema]] : []));
  const measured = hashValue(hashes.map((h) => memo.get(h)!.outHash));
  const views = measures.map(([name, schema]) => `"${name}" AS (${measureQuery(project, name, schema, parts, current)})`).join(', ');
  const derived = stage.derive?.(params as never) ?? {};
  const outputs: Record<string, OutputRecord> = {};
  for (const [name, decl] of Object.entries(stage.outputs)) {
    if (decl.kind !== 'table') continue;
    const columns = columnsOf(decl.schema).map(([n]) => `"${n}"`).join(', ');
    const query = derived[name] ?? (stage.measures?.[name] || !stage.measures ? `SELECT * FROM "${name}"` : undefined);
    if (query === undefined) throw new StageFailure(stageName, `output ${name} is neither a measure nor derived`);
    // The identity of a derived table: the rows it was derived from and the query, thresholds included.
    const hash = hashValue([name, measured, derived[name] ?? null]);
    outputs[name] = await writeTable(project, state, name, `WITH ${views} SELECT ${columns} FROM (${query}) q ORDER BY q._row`, hash);
  }
  await state.run(`DROP TABLE IF EXISTS ${current}`);
  return outputs;
}
