// The stat cache answers from (size, mtime, inode) without reading a file, across runs.
import { mkdtempSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { State } from '../../src/state.js';
import { StatCache } from '../../src/stat-cache.js';
import { hashBytes } from '../../src/hash.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sdloop-stat-cache-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function withCache<T>(work: (cache: StatCache) => Promise<T>): Promise<T> {
  const state = await State.open(join(dir, 'state.duckdb'));
  try {
    const cache = StatCache.open(state, join(dir, 'objects'));
    const result = await work(cache);
    await cache.flush();
    return result;
  } finally {
    await state.close();
  }
}

it('hashes new files, remembers them across sessions, and rehashes only what changed stat', async () => {
  const plain = join(dir, 'a.txt');
  const tabbed = join(dir, 'tab\there.txt');
  writeFileSync(plain, 'first');
  // A whole second: what utimes sets exactly, so the rewrite below can restore it.
  utimesSync(plain, 1_700_000_000, 1_700_000_000);
  writeFileSync(tabbed, 'tabbed');
  const missing = join(dir, 'missing.txt');
  expect(await withCache((c) => c.hashFiles([plain, tabbed, missing, dir]))).toEqual([hashBytes('first'), hashBytes('tabbed'), undefined, undefined]);

  // Same size, same mtime, same inode: the cache answers without reading the new bytes.
  const inode = statSync(plain).ino;
  writeFileSync(plain, 'FIRST');
  utimesSync(plain, 1_700_000_000, 1_700_000_000);
  expect(statSync(plain).ino).toBe(inode);
  expect(await withCache((c) => c.hashFiles([plain, tabbed]))).toEqual([hashBytes('first'), hashBytes('tabbed')]);

  writeFileSync(plain, 'changed, longer');
  expect(await withCache((c) => c.hashFiles([plain]))).toEqual([hashBytes('changed, longer')]);
  expect(await withCache((c) => c.hashFiles([plain, tabbed]))).toEqual([hashBytes('changed, longer'), hashBytes('tabbed')]);
});
