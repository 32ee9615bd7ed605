import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { State } from '../../src/state.js';
import { readParquetRows, writeParquet } from '../../src/tables.js';

const dir = mkdtempSync(join(tmpdir(), 'sdloop-tables-'));
let state: State;
beforeAll(async () => {
  state = await State.open(join(dir, 'state.duckdb'));
});
afterAll(async () => {
  await state.close();
  rmSync(dir, { recursive: true, force: true });
});

const rows = [
  { t: true, name: 'tab\there, newline\nthere, "quoted", é', n: 9007199254740991, x: 0.1, list: [0.5, -2], meta: { z: 1, a: [1, 2] } },
  { t: false, name: '', n: -3, x: 1e-8, list: [], meta: { nested: { deep: 'yes' } } },
];
const columns: [string, string][] = [
  ['t', 'BOOLEAN'],
  ['name', 'VARCHAR'],
  ['n', 'BIGINT'],
  ['x', 'DOUBLE'],
  ['list', 'FLOAT[]'],
  ['meta', 'JSON'],
];

describe('Parquet tables', () => {
  it('read back the rows written, in order, read whole or line by line, leaving no temporary file', async () => {
    const path = join(dir, 'tables', 'mixed.parquet');
    await writeParquet(state, path, columns, rows);
    expect(await readParquetRows(state, path)).toEqual(rows);
    expect(await readParquetRows(state, path, 0)).toEqual(rows);
    expect(readdirSync(join(dir, 'tables'))).toEqual(['mixed.parquet']);
  });

  it('read an empty table as no rows', async () => {
    const path = join(dir, 'tables', 'empty.parquet');
    await writeParquet(state, path, columns, []);
    expect(await readParquetRows(state, path)).toEqual([]);
    expect(await readParquetRows(state, path, 0)).toEqual([]);
  });
});
