// Stored objects are checked by their recorded stats: nothing is read while nothing
// moved, a moved object is read once and its stat kept again, and an object gone or
// changed in place is named.
import { mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { State } from '../../src/state.js';
import { StatCache } from '../../src/stat-cache.js';
import { createObjectStore } from '../../src/store.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sdloop-object-stats-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const root = () => join(dir, 'data', 'objects');

async function withStats<T>(work: (stats: StatCache, state: State) => Promise<T>): Promise<T> {
  const state = await State.open(join(dir, 'state.duckdb'));
  try {
    const stats = StatCache.open(state, root());
    const result = await work(stats, state);
    await stats.flush();
    return result;
  } finally {
    await state.close();
  }
}

/** The check over a fixed list of project-relative paths, as a stage's memo hits would name them. */
const checkAll = (stats: StatCache, paths: string[]) =>
  stats.objects.check(dir, 'test', 'SELECT unnest(string_split($paths, chr(9))) AS path', { paths: paths.join('\t') });

it('checks by stat, rereads only what moved, and names what is gone or damaged', async () => {
  const [a, b, c] = await withStats(async (stats) => {
    const store = createObjectStore(root(), stats.objects);
    return Promise.all(['first', 'second', 'third'].map(async (text) => relative(dir, (await store.put(Buffer.from(text), 'txt')).path)));
  });
  expect(await withStats(async (_, state) => state.query('SELECT count(*)::INTEGER AS n FROM object_stats'))).toEqual([{ n: 3 }]);
  expect(await withStats((stats) => checkAll(stats, [a!, b!, c!]))).toEqual({ bad: new Set(), damaged: [] });

  // Touched, bytes unchanged: read once, found intact, and its new stat kept.
  utimesSync(join(dir, a!), 1_700_000_000, 1_700_000_000);
  // Changed in place (as through a hard link of it), and deleted.
  writeFileSync(join(dir, b!), 'SECOND');
  rmSync(join(dir, c!));
  const found = await withStats((stats) => checkAll(stats, [a!, b!, c!]));
  expect(found).toEqual({ bad: new Set([b, c]), damaged: [b] });
  const kept = await withStats(async (_, state) => state.query<{ mtime_ms: string }>('SELECT mtime_ms FROM object_stats WHERE path = $p', { p: relative(root(), join(dir, a!)) }));
  expect(kept).toEqual([{ mtime_ms: String(1_700_000_000_000) }]);
});

it('a put of an object already in place rewrites it only when its bytes no longer match its name', async () => {
  const path = await withStats(async (stats) => (await createObjectStore(root(), stats.objects).put(Buffer.from('image'), 'png')).path);
  writeFileSync(path, 'garbled');
  await withStats(async (stats) => {
    const store = createObjectStore(root(), stats.objects);
    expect(await store.verified(relative(root(), path).slice(3, 35), 'png')).toBeUndefined();
    await store.put(Buffer.from('image'), 'png');
  });
  expect(readFileSync(path, 'utf8')).toBe('image');
  expect(await withStats((stats) => checkAll(stats, [relative(dir, path)]))).toEqual({ bad: new Set(), damaged: [] });
});
