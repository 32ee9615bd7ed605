import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hashBytes, stableStringify } from '../../src/hash.js';
import { queryChunks, readParquetRows, writeParquet, writeTableVersion } from '../../src/tables.js';
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
    const { path, hash } = await writeTableVersion(scratch.state, versions, 'timed', columns, rows, { runFacts: ['x'] });
    const identity = rows.map(({ x: _x, ...rest }) => stableStringify(rest)).join('\n');
    expect(hash).toBe(hashBytes(identity));
    expect(readdirSync(versions)).toEqual([`timed-${hash.slice(0, 16)}.parquet`]);
    expect(await readParquetRows(scratch.state, path)).toEqual(rows);
  });

  it('write a table handed over in chunks as the same version as its rows at once, each row checked as it is written', async () => {
    const many = Array.from({ length: 4500 }, (_, i) => ({ ...rows[i % 2]!, n: i }));
    const whole = await writeTableVersion(scratch.state, join(scratch.dir, 'whole'), 'many', columns, many, { runFacts: ['x'] });
    async function* inChunks() {
      for (let i = 0; i < many.length; i += 1700) yield many.slice(i, i + 1700);
    }
    const checked: number[] = [];
    const check = (row: Record<string, unknown>, i: number) => {
      checked.push(i);
      return { ...row };
    };
    const chunked = await writeTableVersion(scratch.state, join(scratch.dir, 'chunked'), 'many', columns, inChunks(), { runFacts: ['x'], check });
    expect(chunked.hash).toBe(whole.hash);
    expect(chunked.rows).toBe(4500);
    expect(checked).toEqual(many.map((_, i) => i));
    expect(await readParquetRows(scratch.state, chunked.path)).toEqual(many);
    const failing = () => writeTableVersion(scratch.state, join(scratch.dir, 'failing'), 'many', columns, inChunks(), {
      check: (row, i) => {
        if (i === 3000) throw new Error('row 3000 is bad');
        return row;
      },
    });
    await expect(failing()).rejects.toThrow('row 3000 is bad');
    expect(readdirSync(join(scratch.dir, 'failing'))).toEqual([]);
  });

  it("hand over a query's rows in its order a chunk at a time, with its parameters, leaving no scratch file", async () => {
    const query = 'SELECT i AS n, {a: i % 3} AS j, [i, i + 1] AS l FROM range($count) t(i) WHERE i <> $skip ORDER BY i DESC';
    const chunks: { n: number; j: { a: number }; l: number[] }[][] = [];
    for await (const chunk of queryChunks<{ n: number; j: { a: number }; l: number[] }>(scratch.state, query, { scratch: join(scratch.dir, 'q', 'query'), params: { count: 5000, skip: 10 }, chunkBytes: 4096 })) chunks.push(chunk);
    expect(chunks.length).toBeGreaterThan(10);
    const all = chunks.flat();
    expect(all.map((r) => r.n)).toEqual(Array.from({ length: 5000 }, (_, i) => 4999 - i).filter((n) => n !== 10));
    expect(all[0]).toEqual({ n: 4999, j: { a: 4999 % 3 }, l: [4999, 5000] });
    expect(readdirSync(join(scratch.dir, 'q'))).toEqual([]);
  });
});
