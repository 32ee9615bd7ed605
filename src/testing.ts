// Run a stage module in-process without the scheduler or state (ctx.sql runs on a
// throwaway DuckDB over the input rows): for unit tests of stage modules. The engine's
// own tests exercise the real path.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createObjectStore } from './store.js';
import { hashFile } from './hash.js';
import { queryRows, State } from './state.js';
import { columnsFromRow, columnsOf } from './table-schema.js';
import { queryChunks, readParquetRows, sqlString, tableViews, writeParquet } from './tables.js';
import type { ItemResult, MapStage, Row, StageContext, TableInput, WholeStage } from './stage.js';

export interface TestContextOptions<P> {
  dir: string;
  params: P;
  inputs?: Record<string, Row[]>;
  stage?: string;
}

function tableOf(name: string, rows: Row[], path = `memory:${name}`): TableInput {
  return { kind: 'table', name, path, hash: name, rows: async <T>() => rows as T[] };
}

/** Run `work` on a throwaway DuckDB in a fresh temp folder, removed afterwards. */
async function withScratchState<T>(prefix: string, work: (state: State, dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const state = await State.open(join(dir, 'scratch.duckdb'));
  try {
    return await work(state, dir);
  } finally {
    await state.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Tables of rows written as Parquet at `pathOf(name)`, columns inferred from the first row; an empty table writes no file. */
async function writeRowTables(state: State, tables: Record<string, Row[]>, pathOf: (name: string) => string): Promise<[string, string][]> {
  const written: [string, string][] = [];
  for (const [name, rows] of Object.entries(tables)) {
    if (rows.length === 0) continue;
    await writeParquet(state, pathOf(name), columnsFromRow(rows[0]!), rows);
    written.push([name, pathOf(name)]);
  }
  return written;
}

/**
 * ctx.sql for a test context: a throwaway DuckDB per query, over the input rows written
 * anew as Parquet at their inputs' paths and viewed by their input names, as the engine
 * views them. `chunks` answers as ctx.sqlChunks does (JSON columns nested), in one chunk.
 */
function sqlOverRows<T>(dir: string, inputs: Record<string, Row[]>, query: string, params: Record<string, unknown> | undefined, chunks = false): Promise<T[]> {
  return withScratchState('sdloop-test-sql-', async (state, scratch) => {
    const views = tableViews(await writeRowTables(state, inputs, (name) => testInputPath(dir, name)));
    if (chunks) {
      const rows: T[] = [];
      for await (const chunk of queryChunks<T>(state, query, { params, setup: views || undefined, scratch: join(scratch, 'query') })) for (const row of chunk) rows.push(row);
      return rows;
    }
    return state.exclusive(async (c) => {
      if (views) await c.run(views);
      return queryRows<T>(c, query, params);
    });
  });
}

const testInputPath = (dir: string, name: string) => join(dir, 'data', 'test-inputs', `${name}.parquet`);

export function makeTestContext<P>(options: TestContextOptions<P>): StageContext<P> & { logs: string[] } {
  const logs: string[] = [];
  const stage = options.stage ?? 'test';
  const inputs = Object.fromEntries(Object.entries(options.inputs ?? {}).map(([n, rows]) => [n, tableOf(n, rows, testInputPath(options.dir, n))]));
  return {
    stage,
    params: options.params,
    inputs,
    projectDir: options.dir,
    dataDir: join(options.dir, 'data'),
    store: createObjectStore(join(options.dir, 'data', 'objects')),
    outDir(output: string) {
      const dir = join(options.dir, 'data', 'stages', stage, output);
      mkdirSync(dir, { recursive: true });
      return dir;
    },
    sql: (query, params) => sqlOverRows(options.dir, options.inputs ?? {}, query, params),
    async *sqlChunks(query, params) {
      yield await sqlOverRows(options.dir, options.inputs ?? {}, query, params, true);
    },
    fileHash: (path: string) => hashFile(resolve(options.dir, path)),
    dependOn() {},
    log: (m) => logs.push(m),
    warn: (m) => logs.push(`warning: ${m}`),
    progress() {},
    signal: new AbortController().signal,
    logs,
  };
}

export async function runWholeStage<P>(stage: WholeStage<P>, ctx: StageContext<P>) {
  return stage.run(ctx);
}

/** Items, batches, results and the assembled output rows (failed items' rows included). */
export async function runMapStage<P, I extends Row, S>(stage: MapStage<P, I, S>, ctx: StageContext<P>) {
  const over = ctx.inputs[stage.over];
  if (!stage.items && over?.kind !== 'table') throw new Error(`map input ${stage.over} is not a table`);
  const items = stage.items ? await stage.items(ctx) : await (over as TableInput).rows<I>();
  const state = (await stage.setup?.(ctx, items)) as S;
  const results: ItemResult[] = [];
  const size = Math.max(1, stage.batchSize(ctx.params));
  for (let i = 0; i < items.length; i += size) {
    results.push(...(await stage.mapBatch(items.slice(i, i + size), ctx, state)));
    await stage.beforeCommit?.(state);
  }
  await stage.release?.(state);
  const tables = stage.derive ? await deriveInMemory(stage, ctx.params, results) : Object.fromEntries(Object.keys(stage.outputs).map((name) => [name, results.flatMap((r) => r.rows[name] ?? [])]));
  await stage.finish?.(ctx, state, await outputTables(ctx.projectDir, tables));
  await stage.teardown?.(state);
  return { items, results, tables };
}

/** Output tables as finish sees them: their rows, and Parquet files that ctx.sql can read (columns inferred from the first row). */
function outputTables(dir: string, tables: Record<string, Row[]>): Promise<Record<string, TableInput>> {
  const pathOf = (name: string) => join(dir, 'data', 'test-outputs', `${name}.parquet`);
  return withScratchState('sdloop-test-outputs-', async (state) => {
    await writeRowTables(state, tables, pathOf);
    return Object.fromEntries(Object.entries(tables).map(([name, rows]) => [name, tableOf(name, rows, pathOf(name))]));
  });
}

/** The outputs of a stage with measures: its derive queries run as the engine runs them, in a throwaway DuckDB. */
async function deriveInMemory<P>(stage: MapStage<P, any, any>, params: P, results: ItemResult[]): Promise<Record<string, Row[]>> {
  return withScratchState('sdloop-derive-', async (state, dir) => {
    const views: string[] = [];
    for (const [name, schema] of Object.entries(stage.measures ?? {})) {
      let row = 0;
      const rows = results.flatMap((r, item) => (r.rows[name] ?? []).map((x) => ({ ...x, _item: String(item), _row: row++ })));
      const path = join(dir, `${name}.parquet`);
      await writeParquet(state, path, [...columnsOf(schema), ['_item', 'VARCHAR'], ['_row', 'BIGINT']], rows);
      views.push(`"${name}" AS (SELECT * FROM read_parquet(${sqlString(path)}))`);
    }
    const derived = stage.derive!(params);
    const tables: Record<string, Row[]> = {};
    for (const [name, decl] of Object.entries(stage.outputs)) {
      if (decl.kind !== 'table') continue;
      const columns = columnsOf(decl.schema).map(([n]) => `"${n}"`).join(', ');
      const path = join(dir, `out-${name}.parquet`);
      await state.run(`COPY (WITH ${views.join(', ')} SELECT ${columns} FROM (${derived[name] ?? `SELECT * FROM "${name}"`}) q ORDER BY q._row) TO ${sqlString(path)} (FORMAT parquet)`);
      tables[name] = await readParquetRows(state, path);
    }
    return tables;
  });
}
