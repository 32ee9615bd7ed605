import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { State } from '../../src/state.js';
import { hashBytes, stableStringify } from '../../src/hash.js';
import { readParquetRows, writeParquet, writeTableVersion } from '../../src/tables.js';

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
  it('read back the rows written, in order, read in one chunk or in chunks that split rows, leaving no temporary file', async () => {
    const path = join(dir, 'tables', 'mixed.parquet');
    await writeParquet(state, path, columns, rows);
    expect(await readParquetRows(state, path)).toEqual(rows);
    expect(await readParquetRows(state, path, 7)).toEqual(rows);
    expect(readdirSync(join(dir, 'tables'))).toEqual(['mixed.parquet']);
  });

  it('read an empty table as no rows', async () => {
    const path = join(dir, 'tables', 'empty.parquet');
    await writeParquet(state, path, columns, []);
    expect(await readParquetRows(state, path)).toEqual([]);
    expect(await readParquetRows(state, path, 7)).toEqual([]);
  });

  it('hash the canonical lines of all rows as one text, however many chunks they are written in', async () => {
    const many = Array.from({ length: 4500 }, (_, i) => ({ ...rows[i % 2]!, n: i }));
    const canonical = many.map((row) => stableStringify(row)).join('\n');
    expect(await writeParquet(state, join(dir, 'tables', 'many.parquet'), columns, many)).toBe(hashBytes(canonical));
    expect(await readParquetRows(state, join(dir, 'tables', 'many.parquet'))).toEqual(many);
    expect(await readParquetRows(state, join(dir, 'tables', 'many.parquet'), 1000)).toEqual(many);
    expect(await writeParquet(state, join(dir, 'tables', 'none.parquet'), columns, [])).toBe(hashBytes(''));
  });

  it('name a table version by the hash of its rows without run facts, leaving only that file', async () => {
    const versions = join(dir, 'versions');
    const { path, hash } = await writeTableVersion(state, versions, 'timed', columns, rows, ['x']);
    const identity = rows.map(({ x: _x, ...rest }) => stableStringify(rest)).join('\n');
    expect(hash).toBe(hashBytes(identity));
    expect(readdirSync(versions)).toEqual([`timed-${hash.slice(0, 16)}.parquet`]);
    expect(await readParquetRows(state, path)).toEqual(rows);
  });
});
