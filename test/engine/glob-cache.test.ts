// The glob cache keeps a listing while no folder under the glob's base changed, a folder
// that is not there included: a no-op run must write nothing to the state.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { GlobCache } from '../../src/glob-cache.js';
import { State } from '../../src/state.js';

let dir: string;
let state: State;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sdloop-glob-cache-'));
  state = await State.open(join(dir, 'state.duckdb'));
});
afterEach(async () => {
  await state.close();
  rmSync(dir, { recursive: true, force: true });
});

it.each(['absent/**', 'absent/*.yaml'])('a glob over a folder that is not there (%s) is cached: the second pass writes nothing', async (pattern) => {
  const first = new GlobCache(state);
  expect(await first.glob(dir, pattern)).toEqual([]);
  await first.flush();

  const second = new GlobCache(state);
  const writes = vi.spyOn(state, 'transaction');
  expect(await second.glob(dir, pattern)).toEqual([]);
  await second.flush();
  expect(writes).not.toHaveBeenCalled();
});

it('the folder appearing is seen', async () => {
  const first = new GlobCache(state);
  expect(await first.glob(dir, 'absent/**')).toEqual([]);
  await first.flush();
  mkdirSync(join(dir, 'absent'));
  writeFileSync(join(dir, 'absent', 'a.yaml'), 'a: 1\n');
  expect(await new GlobCache(state).glob(dir, 'absent/**')).toEqual(['absent/a.yaml']);
});
