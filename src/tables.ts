// Table artifacts: rows -> Parquet (through DuckDB, atomically) and back. A table's
// identity is the hash of its canonical rows, not of the Parquet bytes, so a stage that
// reproduces the same rows leaves its dependents up to date (early cut-off).
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { hashBytes, stableStringify } from './hash.js';
import { renameDurably, tempPathFor } from './atomic.js';
import type { State } from './state.js';
import type { Row } from './stage.js';
import type { ColumnTypes } from './table-schema.js';

const sqlString = (s: string) => `'${s.replace(/'/g, "''")}'`;

function selectFrom(jsonPath: string, columns: ColumnTypes, empty: boolean): string {
  if (empty) return `SELECT ${columns.map(([n, t]) => `CAST(NULL AS ${t}) AS "${n}"`).join(', ')} WHERE false`;
  const spec = columns.map(([n, t]) => `${sqlString(n)}: ${sqlString(t)}`).join(', ');
  const names = columns.map(([n]) => `"${n}"`).join(', ');
  return `SELECT ${names} FROM read_json(${sqlString(jsonPath)}, format = 'newline_delimited', columns = {${spec}}, maximum_object_size = 1073741824)`;
}

/**
 * Run a COPY whose rows must come out in the order they were read, on one thread: with
 * more, DuckDB buffers every thread's finished chunks to put them back in order, which
 * more than doubled the peak of writing a 100,000-row table as JSON (480 MB, 215 on one).
 */
function copyInOrder(state: State, sql: string): Promise<void> {
  return state.exclusive(async (c) => {
    await c.run('SET threads = 1');
    try {
      await c.run(sql);
    } finally {
      await c.run('RESET threads');
    }
  });
}

/** Rows are turned into text this many at a time: the text of a whole table never exists at once. */
const linesPerChunk = 2000;

/**
 * Write each row's JSON as a line of `path`, chunk by chunk, and return the hash of the
 * lines joined by newlines (the trailing one left out). The hash is read back from the
 * file's bytes: xxh128 has no streaming form, and a Buffer is a third the size of the
 * strings it was made from.
 */
async function writeLines(path: string, rows: Row[], line: (row: Row) => string): Promise<string> {
  if (rows.length === 0) return hashBytes('');
  const file = await open(path, 'w');
  try {
    for (let i = 0; i < rows.length; i += linesPerChunk) {
      const chunk = rows.slice(i, i + linesPerChunk).map(line);
      await file.write(`${chunk.join('\n')}\n`);
    }
  } finally {
    await file.close();
  }
  const bytes = await readFile(path);
  return hashBytes(bytes.subarray(0, bytes.length - 1));
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

/** The hash of the rows' canonical lines without their run facts, written to a scratch file beside `path` to be hashed. */
async function identityHash(path: string, rows: Row[], runFacts: readonly string[]): Promise<string> {
  const scratch = tempPathFor(`${path}.identity.ndjson`);
  try {
    return await writeLines(scratch, rows, (row) => stableStringify(withoutRunFacts(row, runFacts)));
  } finally {
    await rm(scratch, { force: true });
  }
}

/**
 * writeParquet under tablePath: returns the path written and the hash of the rows without
 * their run facts. The Parquet is written under a scratch name first, since its final
 * name comes from the hash of the lines it is made from.
 */
export async function writeTableVersion(state: State, tablesDir: string, name: string, columns: ColumnTypes, rows: Row[], runFacts: readonly string[] = []): Promise<{ path: string; hash: string }> {
  const scratch = tempPathFor(join(tablesDir, `${name}.parquet`));
  try {
    const linesHash = await writeParquetFrom(state, scratch, columns, rows, stableStringify);
    const hash = runFacts.length === 0 ? linesHash : await identityHash(scratch, rows, runFacts);
    const path = tablePath(tablesDir, name, hash);
    await renameDurably(scratch, path);
    return { path, hash };
  } finally {
    await rm(scratch, { force: true });
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
    const hash = await writeLines(json, rows, line);
    await copyInOrder(state, `COPY (${selectFrom(json, columns, rows.length === 0)}) TO ${sqlString(tmp)} (FORMAT parquet)`);
    await renameDurably(tmp, path);
    return hash;
  } finally {
    await rm(json, { force: true });
    await rm(tmp, { force: true });
  }
}

/** Run a query and write its result as Parquet at `path`, atomically. */
export async function copyQueryToParquet(state: State, query: string, path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempPathFor(path);
  try {
    await state.run(`COPY (${query}) TO ${sqlString(tmp)} (FORMAT parquet)`);
    await renameDurably(tmp, path);
  } finally {
    await rm(tmp, { force: true });
  }
}

/**
 * Rows of a Parquet table as plain objects, JSON columns nested. DuckDB writes them as
 * JSON lines, parsed a chunk of `chunkBytes` (8 MiB) at a time as one array: twice as
 * fast as converting its values to JS one by one, or one line at a time, and the text
 * held at once stays a chunk, never the whole table.
 */
export async function readParquetRows<T = Row>(state: State, path: string, chunkBytes = 8 << 20): Promise<T[]> {
  const json = tempPathFor(`${path}.ndjson`);
  try {
    await copyInOrder(state, `COPY (SELECT * FROM read_parquet(${sqlString(path)})) TO ${sqlString(json)} (FORMAT json)`);
    const rows: T[] = [];
    // A record never spans lines (JSON escapes newlines in strings), so whole lines join into one array.
    const parseLines = (lines: string) => {
      if (lines.length > 0) for (const row of JSON.parse(`[${lines.replaceAll('\n', ',')}]`) as T[]) rows.push(row);
    };
    let rest = '';
    for await (const chunk of createReadStream(json, { encoding: 'utf8', highWaterMark: chunkBytes })) {
      const text = rest + (chunk as string);
      const end = text.lastIndexOf('\n');
      parseLines(text.slice(0, Math.max(0, end)));
      rest = text.slice(end + 1);
    }
    parseLines(rest.trimEnd());
    return rows;
  } finally {
    await rm(json, { force: true });
  }
}

/** SQL that makes each table queryable by its name for the statements that follow. */
export function tableViews(tables: [name: string, path: string][]): string {
  return tables.map(([name, path]) => `CREATE OR REPLACE TEMP VIEW "${name}" AS SELECT * FROM read_parquet(${sqlString(path)});`).join('\n');
}

export { sqlString };
