// A state database in a fresh temp folder, opened before the tests and removed after
// them: once for the whole file, or anew for each test.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { State } from '../../src/state.js';

export interface ScratchState {
  dir: string;
  state: State;
}

export function scratchState(prefix: string, fresh: 'per-file' | 'per-test' = 'per-file'): ScratchState {
  const scratch = {} as ScratchState;
  const [before, after] = fresh === 'per-file' ? [beforeAll, afterAll] : [beforeEach, afterEach];
  before(async () => {
    scratch.dir = mkdtempSync(join(tmpdir(), prefix));
    scratch.state = await State.open(join(scratch.dir, 'state.duckdb'));
  });
  after(async () => {
    await scratch.state.close();
    rmSync(scratch.dir, { recursive: true, force: true });
  });
  return scratch;
}
