// One `pipeline run` per project at a time: a lock file holding pid, host and start time.
// A lock left by a dead process on this host is reported and taken over.
import { readFileSync, writeFileSync, rmSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { hostname } from 'node:os';
import { processAlive } from './pid.js';
import { shownPath } from './errors.js';

export interface LockHolder {
  pid: number;
  host: string;
  started_at: string;
  command: string;
}

export class ProjectLockedError extends Error {
  /** `shown`: the lock file as the message names it (relative to the project) */
  constructor(readonly holder: LockHolder, shown: string) {
    super(`another pipeline is running in this project (pid ${holder.pid} on ${holder.host}, since ${holder.started_at}: ${holder.command}); lock file ${shown}`);
  }
}

export function readLockHolder(file: string): LockHolder | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as LockHolder;
  } catch {
    return undefined;
  }
}

/**
 * Whether the holder can no longer be running: a dead pid on this host. A holder on
 * another host (a project on a shared disk) cannot be checked and counts as running.
 */
export function holderIsGone(holder: LockHolder): boolean {
  return holder.host === hostname() && !processAlive(holder.pid, holder.started_at);
}

/** The run lock's holder while it still runs; undefined when there is no lock or it is stale. */
export function liveRunHolder(file: string): LockHolder | undefined {
  const holder = readLockHolder(file);
  return holder && !holderIsGone(holder) ? holder : undefined;
}

/** What a reader says of a lock whose holder is gone; undefined for no lock or a live one. */
export function staleLockNote(file: string): string | undefined {
  const holder = readLockHolder(file);
  if (!holder || !holderIsGone(holder)) return undefined;
  return `the run lock left by pid ${holder.pid} (started ${holder.started_at}: ${holder.command}) is stale: that process is no longer running; the next run takes it over`;
}

/** The lock files this process holds: a command that holds one across several runs (the loop's round) runs each under it. */
const heldHere = new Set<string>();

/** Whether this process holds the lock already (then the state it opens is its own to wait for). */
export function holdsProjectLock(file: string): boolean {
  return heldHere.has(file);
}

/**
 * Take the lock or throw; returns a release function and a note when a stale lock was
 * replaced. Taking a lock this process holds already succeeds, and its release leaves
 * the lock to the outer holder.
 */
export function acquireProjectLock(file: string, command: string, projectDir: string): { release: () => void; staleNote?: string } {
  if (heldHere.has(file)) return { release: () => undefined };
  mkdirSync(dirname(file), { recursive: true });
  const me: LockHolder = { pid: process.pid, host: hostname(), started_at: new Date().toISOString(), command };
  let staleNote: string | undefined;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, JSON.stringify(me, null, 2), { flag: 'wx' });
      heldHere.add(file);
      const release = () => {
        if (!heldHere.delete(file)) return;
        rmSync(file, { force: true });
      };
      return { release, staleNote };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = readLockHolder(file);
      if (holder && !holderIsGone(holder)) throw new ProjectLockedError(holder, shownPath(projectDir, file));
      staleNote = holder
        ? `removed a stale lock left by pid ${holder.pid} (started ${holder.started_at}), which is no longer running`
        : 'removed an unreadable lock file';
      rmSync(file, { force: true });
    }
  }
  throw new Error(`could not take the project lock ${shownPath(projectDir, file)}`);
}
