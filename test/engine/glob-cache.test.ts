// The glob cache keeps a listing while no folder under the glob's base changed, a folder
// that is not there included: a no-op run must write nothing to the state.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it, vi } from 'vitest';
import { GlobCache } from '../../src/glob-cache.js';
import { scratchState } from './scratch-state.js';

const scratch = scratchState('sdloop-glob-cache-', 'per-test');

it.each(['absent/**', 'absent/*.yaml'])('a glob over a folder that is not there (%s) is cached: the second pass writes nothing', async (pattern) => {
  const first = new GlobCache(scratch.state);
  expect(await first.glob(scratch.dir, pattern)).toEqual([]);
  await first.flush();

  const second = new GlobCache(scratch.state);
  const writes = vi.spyOn(scratch.state, 'transaction');
  expect(await second.glob(scratch.dir, pattern)).toEqual([]);
  await second.flush();
  expect(writes).not.toHaveBeenCalled();
});

it('the folder appearing is seen', async () => {
  const first = new GlobCache(scratch.state);
  expect(await first.glob(scratch.dir, 'absent/**')).toEqual([]);
  await first.flush();
  mkdirSync(join(scratch.dir, 'absent'));
  writeFileSync(join(scratch.dir, 'absent', 'a.yaml'), 'a: 1\n');
  expect(await new GlobCache(scratch.state).glob(scratch.dir, 'absent/**')).toEqual(['absent/a.yaml']);
});
