// pipeline.lock and its JSON copy: a lock as the engine wrote it is read from the copy (a
// YAML parse costs every status ~10 ms), a lock edited by hand from its own YAML, and a
// copy of an older engine (without the YAML's hash) still stands in for a lost lock.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { lockCopyPath, readLockFile, writeLockFile, type LockEntry, type LockFile } from '../../src/lockfile.js';

const entry = (fingerprint: string): LockEntry => ({
  fingerprint, code: 'c0de', version: '1', memo: 'm', params: { count: 3 }, resources: {}, observed: {}, inputs: {},
  deps: { files: 1, hash: 'd' }, outs: { planned: { kind: 'table', path: 'data/tables/planned-1.parquet', hash: 'h', rows: 3, file: 'f' } },
  finished_at: '2026-12-02T10:00:00.000Z', duration_s: 0.5,
});

function project(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sdloop-lockcopy-'));
  mkdirSync(join(dir, 'data', '.sdloop'), { recursive: true });
  return dir;
}

it('reads the lock as written, a hand edit of its YAML, and an older copy when the lock is gone', async () => {
  const dir = project();
  const lockPath = join(dir, 'pipeline.lock');
  const lock: LockFile = { schema: 1, stages: { resolve: entry('aaaa') } };
  await writeLockFile(lockPath, lock);
  expect(JSON.parse(readFileSync(lockCopyPath(lockPath), 'utf8')).yaml).toMatch(/^[0-9a-f]{32}$/);
  expect(readLockFile(lockPath)).toEqual(lock);

  writeFileSync(lockPath, readFileSync(lockPath, 'utf8').replace('fingerprint: aaaa', 'fingerprint: bbbbbb'));
  expect(readLockFile(lockPath).stages.resolve!.fingerprint).toBe('bbbbbb');

  const older = { schema: 1, stages: { resolve: entry('cccc') } };
  writeFileSync(lockCopyPath(lockPath), JSON.stringify(older));
  rmSync(lockPath);
  expect(readLockFile(lockPath)).toEqual(older);
});
