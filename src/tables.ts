// Table artifacts: rows -> Parquet (through DuckDB, atomically) and back. A table's
// identity is the hash of its canonical rows, not of the Parquet bytes, so a stage that
// reproduces the same rows leaves its dependents up to date (early cut-off).
import { createReadStream } from 'node:fs';
import { appendFile, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
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

/** Write rows as Parquet at `path` (temp + rename); returns the content hash: of their canonical NDJSON (keys sorted). */
export async function writeParquet(state: State, path: string, columns: ColumnTypes, rows: Row[]): Promise<string> {
  // One text for the hash and the file: at 40,000 rows of a few KB, each copy is hundreds of MB.
  const text = rows.map((row) => stableStringify(row)).join('\n');
  await writeParquetText(state, path, columns, text, rows.length);
  return hashBytes(text);
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

/** writeParquet under tablePath: returns the path written and the hash of the rows without their run facts. */
export async function writeTableVersion(state: State, tablesDir: string, name: string, columns: ColumnTypes, rows: Row[], runFacts: readonly string[] = []): Promise<{ path: string; hash: string }> {
  const text = rows.map((row) => stableStringify(row)).join('\n');
  const hash = runFacts.length === 0 ? hashBytes(text) : hashBytes(rows.map((row) => stableStringify(withoutRunFacts(row, runFacts))).join('\n'));
  const path = tablePath(tablesDir, name, hash);
  await writeParquetText(state, path, columns, text, rows.length);
  return { path, hash };
}

/**
 * Write rows as Parquet without hashing them: for parts whose identity is kept elsewhere.
 * Plain JSON serves, since DuckDB reads the lines by column name.
 */
export async function writeParquetPart(state: State, path: string, columns: ColumnTypes, rows: Row[]): Promise<void> {
  await writeParquetLines(state, path, columns, rows.map((row) => JSON.stringify(row)));
}

async function writeParquetLines(state: State, path: string, columns: ColumnTypes, lines: string[]): Promise<void> {
  await writeParquetText(state, path, columns, lines.join('\n'), lines.length);
}

/** `text`: the rows as JSON lines joined by newlines. */
async function writeParquetText(state: State, path: string, columns: ColumnTypes, text: string, rows: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const json = tempPathFor(`${path}.ndjson`);
  const tmp = tempPathFor(path);
  try {
    if (rows > 0) {
      await writeFile(json, text);
      await appendFile(json, '\n');
    }
    await state.run(`COPY (${selectFrom(json, columns, rows === 0)}) TO ${sqlString(tmp)} (FORMAT parquet)`);
    await renameDurably(tmp, path);
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
 * JSON lines, parsed here in one go: twice as fast as converting its values to JS one
 * by one, or even one row's JSON string at a time. Beyond `wholeTextLimit` bytes of JSON
 * (128 MiB) it is read line by line: a JS string tops out at 512 MiB.
 */
export async function readParquetRows<T = Row>(state: State, path: string, wholeTextLimit = 128 << 20): Promise<T[]> {
  const json = tempPathFor(`${path}.ndjson`);
  try {
    await state.run(`COPY (SELECT * FROM read_parquet(${sqlString(path)})) TO ${sqlString(json)} (FORMAT json)`);
    if ((await stat(json)).size <= wholeTextLimit) {
      // A record never spans lines (JSON escapes newlines in strings), so the lines join into one array.
      const text = (await readFile(json, 'utf8')).trimEnd();
      return JSON.parse(`[${text.replaceAll('\n', ',')}]`) as T[];
    }
    const rows: T[] = [];
    for await (const line of createInterface({ input: createReadStream(json), crlfDelay: Infinity })) if (line) rows.push(JSON.parse(line) as T);
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
