// pipeline.lock's entries kept in the state as well, each written before the lock names
// it: when both the lock and its copy are lost or damaged, the state still knows what
// each stage last committed (its outputs and their hashes), so status stays true and
// nothing runs again.
import { lockFileSchema, lockLost, useLockFromState, type LockEntry, type LockFile } from './lockfile.js';
import type { State } from './state.js';

/** Record a stage's new lock entry; called before the lock file is written. */
export async function recordLockEntry(state: State, stage: string, entry: LockEntry): Promise<void> {
  await state.transaction(async (c) => {
    await c.run('DELETE FROM lock_entries WHERE stage = $stage', { stage });
    await c.run('INSERT INTO lock_entries VALUES ($stage, $entry)', { stage, entry: JSON.stringify(entry) });
  });
}

/** The lock as the state recorded it; undefined when it holds no entry or one this version cannot read. */
export async function lockOfState(state: State): Promise<LockFile | undefined> {
  // A state an older version wrote, opened read-only, has no such table yet.
  if (!(await state.tableExists('lock_entries'))) return undefined;
  return lockOfEntries(await state.query<{ stage: string; entry: string }>('SELECT stage, entry FROM lock_entries ORDER BY stage'));
}

/** The lock the rows of lock_entries (the state's or the readers' copy) make; undefined when none or unreadable. */
export function lockOfEntries(rows: { stage: string; entry: string }[]): LockFile | undefined {
  if (rows.length === 0) return undefined;
  const parsed = lockFileSchema.safeParse({ schema: 1, stages: Object.fromEntries(rows.map((r) => [r.stage, JSON.parse(r.entry)])) });
  return parsed.success ? parsed.data : undefined;
}

/** Where the lock and its copy are both unusable, read the lock from the state's records from now on. */
export async function standInForLostLock(lockPath: string, state: State): Promise<void> {
  if (!lockLost(lockPath)) return;
  const lock = await lockOfState(state);
  if (lock) useLockFromState(lockPath, lock);
}

/** Entries a lock holds that the state has no record of (a state from before it kept them). */
export async function recordMissingEntries(state: State, lock: LockFile): Promise<void> {
  const known = new Set((await state.query<{ stage: string }>('SELECT stage FROM lock_entries')).map((r) => r.stage));
  for (const [stage, entry] of Object.entries(lock.stages)) if (!known.has(stage)) await recordLockEntry(state, stage, entry);
}
