// Table artifacts: rows -> Parquet (through DuckDB, atomically) and back. A table's
// identity is the hash of its canonical rows, not of the Parquet bytes, so a stage that
// reproduces the same rows leaves its dependents up to date (early cut-off).
import { createReadStream } from 'node:fs';
import { mkdir, open, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { hashFile, stableStringify } from './hash.js';
import { renameDurably, tempPathFor } from './atomic.js';
import type { State } from './state.js';
import type { Row } from './stage.js';
import type { ColumnTypes } from './table-schema.js';

const sqlString = (s: string) => `'${s.replace(/'/g, "''")}'`;

/**
 * DuckDB reads JSON lines a buffer of about twice the largest object it allows at a time:
 * its default (16 MiB), unless a line written is longer, never the 1 GiB that would read a
 * table's whole text at once. A UTF-8 byte count is at most three times the UTF-16 length.
 */
const objectSizeFor = (longestLine: number) => Math.max(16 << 20, 3 * longestLine + 1);

function selectFrom(jsonPath: string, columns: ColumnTypes, longestLine: number): string {
  if (longestLine === 0) return `SELECT ${columns.map(([n, t]) => `CAST(NULL AS ${t}) AS "${n}"`).join(', ')} WHERE false`;
  const spec = columns.map(([n, t]) => `${sqlString(n)}: ${sqlString(t)}`).join(', ');
  const names = columns.map(([n]) => `"${n}"`).join(', ');
  return `SELECT ${names} FROM read_json(${sqlString(jsonPath)}, format = 'newline_delimited', columns = {${spec}}, maximum_object_size = ${objectSizeFor(longestLine)})`;
}

/**
 * Parquet as sdloop writes it: row groups of 10,000 rows. DuckDB's writer holds a whole
 * row group (122,880 rows by default) before it writes any: 150 MB of a 100,000-row
 * prompts table, where 10,000 rows hold a tenth and write no slower.
 */
const parquetFormat = 'FORMAT parquet, ROW_GROUP_SIZE 10000';

/**
 * Run a COPY whose rows must come out in the order they were read, on one thread: with
 * more, DuckDB buffers every thread's finished chunks to put them back in order, which
 * more than doubled the peak of writing a 100,000-row table as JSON (480 MB, 215 on one).
 * `setup` runs first on the same connection (the views a query names).
 */
function copyInOrder(state: State, sql: string, params?: Record<string, unknown>, setup?: string): Promise<void> {
  return state.exclusive(async (c) => {
    await c.run('SET threads = 1');
    try {
      if (setup) await c.run(setup);
      await c.run(sql, params as never);
    } finally {
      await c.run('RESET threads');
    }
  });
}

/** A table as a stage hands it over: all its rows, or its rows a chunk at a time (one too large to hold at once). */
export type TableRows = Row[] | AsyncIterable<Row[]>;

/** Rows are turned into text this many at a time: the text of a whole table never exists at once. */
const linesPerChunk = 2000;

async function* chunksOf(rows: TableRows): AsyncIterable<Row[]> {
  if (!Array.isArray(rows)) return yield* rows;
  for (let i = 0; i < rows.length; i += linesPerChunk) yield rows.slice(i, i + linesPerChunk);
}

/**
 * A file of JSON lines written a chunk at a time, joined by newlines with none after the
 * last. Its hash is the file's (hashFile): the lines' bytes up to 64 MiB, so a table's
 * text is never held whole to be hashed.
 */
async function openLines(path: string) {
  const file = await open(path, 'w');
  let empty = true;
  return {
    /** the longest line written, 0 while none is */
    longest: 0,
    async add(lines: string[]): Promise<void> {
      if (lines.length === 0) return;
      for (const line of lines) if (line.length > this.longest) this.longest = line.length;
      await file.write(`${empty ? '' : '\n'}${lines.join('\n')}`);
      empty = false;
    },
    close: () => file.close(),
    hash: () => hashFile(path),
  };
}

/** Write rows as Parquet at `path` (temp + rename); returns the content hash: of their canonical NDJSON (keys sorted). */
export async function writeParquet(state: State, path: string, columns: ColumnTypes, rows: Row[]): Promise<string> {
  return writeParquetFrom(state, path, columns, rows, stableStringify);
}

/**
 * Where a table output of this identity lives: its own name per identity, so writing a
 * new version never touches the one pipeline.lock still names (see generations.ts).
 */
export function tablePath(tablesDir: string, name: string, hash: string): string {
  return join(tablesDir, `${name}-${hash.slice(0, 16)}.parquet`);
}

/** A row without its run-fact columns: what its identity is made of. */
export function withoutRunFacts(row: Row, runFacts: readonly string[]): Row {
  if (runFacts.length === 0) return row;
  const kept = { ...row };
  for (const column of runFacts) delete kept[column];
  return kept;
}

/**
 * Write a table output under tablePath, a chunk of rows at a time: returns the path
 * written, the hash of the rows without their run facts, and the row count. `check`
 * validates each row and returns what is written in its place, so only a chunk of
 * checked copies exists at once. The Parquet is written under a scratch name first, since
 * its final name comes from the hash of the lines it is made from.
 */
export async function writeTableVersion(
  state: State, tablesDir: string, name: string, columns: ColumnTypes, rows: TableRows,
  options: { runFacts?: readonly string[]; check?: (row: Row, index: number) => Row } = {},
): Promise<{ path: string; hash: string; rows: number }> {
  const { runFacts = [], check } = options;
  await mkdir(tablesDir, { recursive: true });
  const scratch = tempPathFor(join(tablesDir, `${name}.parquet`));
  const json = tempPathFor(`${scratch}.ndjson`);
  const identity = runFacts.length > 0 ? tempPathFor(`${scratch}.identity.ndjson`) : undefined;
  try {
    const lines = await openLines(json);
    const identityLines = identity ? await openLines(identity) : undefined;
    let count = 0;
    try {
      for await (const chunk of chunksOf(rows)) {
        const checked = check ? chunk.map((row, i) => check(row, count + i)) : chunk;
        await lines.add(checked.map(stableStringify));
        await identityLines?.add(checked.map((row) => stableStringify(withoutRunFacts(row, runFacts))));
        count += chunk.length;
      }
    } finally {
      await lines.close();
      await identityLines?.close();
    }
    const hash = await (identityLines ?? lines).hash();
    await copyInOrder(state, `COPY (${selectFrom(json, columns, lines.longest)}) TO ${sqlString(scratch)} (${parquetFormat})`);
    const path = tablePath(tablesDir, name, hash);
    await renameDurably(scratch, path);
    return { path, hash, rows: count };
  } finally {
    for (const file of [scratch, json, identity]) if (file) await rm(file, { force: true });
  }
}

/**
 * Write rows as Parquet without hashing them: for parts whose identity is kept elsewhere.
 * Plain JSON serves, since DuckDB reads the lines by column name.
 */
export async function writeParquetPart(state: State, path: string, columns: ColumnTypes, rows: Row[]): Promise<void> {
  await writeParquetFrom(state, path, columns, rows, (row) => JSON.stringify(row));
}

/** Write rows, each made a JSON line by `line`, as Parquet at `path` (temp + rename); returns the hash of the lines. */
async function writeParquetFrom(state: State, path: string, columns: ColumnTypes, rows: Row[], line: (row: Row) => string): Promise<string> {
  await mkdir(dirname(path), { recursive: true });
  const json = tempPathFor(`${path}.ndjson`);
  const tmp = tempPathFor(path);
  try {
    const lines = await openLines(json);
    try {
      for await (const chunk of chunksOf(rows)) await lines.add(chunk.map(line));
    } finally {
      await lines.close();
    }
    const hash = await lines.hash();
    await copyInOrder(state, `COPY (${selectFrom(json, columns, lines.longest)}) TO ${sqlString(tmp)} (${parquetFormat})`);
    await renameDurably(tmp, path);
    return hash;
  } finally {
    await rm(json, { force: true });
    await rm(tmp, { force: true });
  }
}

/**
 * Run an ordered query and write its result as Parquet at `path`, atomically, on one
 * thread: assembling 100,000 images' scores and embeddings peaked at 830-960 MB sorted on
 * two threads and at about 640 MB on one, 0.4 s slower.
 */
export async function copyQueryToParquet(state: State, query: string, path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempPathFor(path);
  try {
    await copyInOrder(state, `COPY (${query}) TO ${sqlString(tmp)} (${parquetFormat})`);
    await renameDurably(tmp, path);
  } finally {
    await rm(tmp, { force: true });
  }
}

/**
 * The rows of a query in its order, as plain objects (JSON columns nested), a chunk at a
 * time. DuckDB writes them as JSON lines to a scratch file named after `scratch`, parsed
 * `chunkBytes` (8 MiB) at a time as one array: twice as fast as converting its values to
 * JS one by one, or one line at a time, and the text held at once stays a chunk, never
 * the whole result. The file is removed once the chunks are read or the reader stops.
 */
export async function* queryChunks<T = Row>(
  state: State, query: string,
  options: { scratch: string; params?: Record<string, unknown>; setup?: string; chunkBytes?: number },
): AsyncGenerator<T[]> {
  const json = tempPathFor(`${options.scratch}.ndjson`);
  try {
    await mkdir(dirname(json), { recursive: true });
    await copyInOrder(state, `COPY (${query}) TO ${sqlString(json)} (FORMAT json)`, options.params, options.setup);
    // A record never spans lines (JSON escapes newlines in strings), so whole lines join into one array.
    const parseLines = (lines: string): T[] => (lines.length > 0 ? (JSON.parse(`[${lines.replaceAll('\n', ',')}]`) as T[]) : []);
    let rest = '';
    for await (const chunk of createReadStream(json, { encoding: 'utf8', highWaterMark: options.chunkBytes ?? 8 << 20 })) {
      const text = rest + (chunk as string);
      const end = text.lastIndexOf('\n');
      const rows = parseLines(text.slice(0, Math.max(0, end)));
      rest = text.slice(end + 1);
      if (rows.length > 0) yield rows;
    }
    const last = parseLines(rest.trimEnd());
    if (last.length > 0) yield last;
  } finally {
    await rm(json, { force: true });
  }
}

/** Rows of a Parquet table as plain objects, JSON columns nested (see queryChunks). */
export async function readParquetRows<T = Row>(state: State, path: string, chunkBytes?: number): Promise<T[]> {
  const rows: T[] = [];
  for await (const chunk of queryChunks<T>(state, `SELECT * FROM read_parquet(${sqlString(path)})`, { scratch: path, chunkBytes })) {
    for (const row of chunk) rows.push(row);
  }
  return rows;
}

/** SQL that makes each table queryable by its name for the statements that follow. */
export function tableViews(tables: [name: string, path: string][]): string {
  return tables.map(([name, path]) => `CREATE OR REPLACE TEMP VIEW "${name}" AS SELECT * FROM read_parquet(${sqlString(path)});`).join('\n');
}

export { sqlString };
