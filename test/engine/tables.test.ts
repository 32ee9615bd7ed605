import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hashBytes, stableStringify } from '../../src/hash.js';
import { readParquetRows, writeParquet, writeTableVersion } from '../../src/tables.js';
import { scratchState } from './scratch-state.js';

const scratch = scratchState('sdloop-tables-');

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
    const path = join(scratch.dir, 'tables', 'mixed.parquet');
    await writeParquet(scratch.state, path, columns, rows);
    expect(await readParquetRows(scratch.state, path)).toEqual(rows);
    expect(await readParquetRows(scratch.state, path, 7)).toEqual(rows);
    expect(readdirSync(join(scratch.dir, 'tables'))).toEqual(['mixed.parquet']);
  });

  it('read an empty table as no rows', async () => {
    const path = join(scratch.dir, 'tables', 'empty.parquet');
    await writeParquet(scratch.state, path, columns, []);
    expect(await readParquetRows(scratch.state, path)).toEqual([]);
    expect(await readParquetRows(scratch.state, path, 7)).toEqual([]);
  });

  it('hash the canonical lines of all rows as one text, however many chunks they are written in', async () => {
    const many = Array.from({ length: 4500 }, (_, i) => ({ ...rows[i % 2]!, n: i }));
    const canonical = many.map((row) => stableStringify(row)).join('\n');
    expect(await writeParquet(scratch.state, join(scratch.dir, 'tables', 'many.parquet'), columns, many)).toBe(hashBytes(canonical));
    expect(await readParquetRows(scratch.state, join(scratch.dir, 'tables', 'many.parquet'))).toEqual(many);
    expect(await readParquetRows(scratch.state, join(scratch.dir, 'tables', 'many.parquet'), 1000)).toEqual(many);
    expect(await writeParquet(scratch.state, join(scratch.dir, 'tables', 'none.parquet'), columns, [])).toBe(hashBytes(''));
  });

  it('name a table version by the hash of its rows without run facts, leaving only that file', async () => {
    const versions = join(scratch.dir, 'versions');
    const { path, hash } = await writeTableVersion(scratch.state, versions, 'timed', columns, rows, ['x']);
    const identity = rows.map(({ x: _x, ...rest }) => stableStringify(rest)).join('\n');
    expect(hash).toBe(hashBytes(identity));
    expect(readdirSync(versions)).toEqual([`timed-${hash.slice(0, 16)}.parquet`]);
    expect(await readParquetRows(scratch.state, path)).toEqual(rows);
  });
});
