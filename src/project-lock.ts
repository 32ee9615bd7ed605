// One `pipeline run` per project at a time: a lock file holding pid, host and start time.
// A lock left by a dead process on this host is reported and taken over.
import { readFileSync, writeFileSync, rmSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { hostname } from 'node:os';
import { processAlive } from './pid.js';

export interface LockHolder {
  pid: number;
  host: string;
  started_at: string;
  command: string;
}

export class ProjectLockedError extends Error {
  constructor(readonly holder: LockHolder, file: string) {
    super(`another pipeline is running in this project (pid ${holder.pid} on ${holder.host}, since ${holder.started_at}: ${holder.command}); lock file ${file}`);
  }
}

export function readLockHolder(file: string): LockHolder | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as LockHolder;
  } catch {
    return undefined;
  }
}

/** Take the lock or throw; returns a release function and a note when a stale lock was replaced. */
export function acquireProjectLock(file: string, command: string): { release: () => void; staleNote?: string } {
  mkdirSync(dirname(file), { recursive: true });
  const me: LockHolder = { pid: process.pid, host: hostname(), started_at: new Date().toISOString(), command };
  let staleNote: string | undefined;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, JSON.stringify(me, null, 2), { flag: 'wx' });
      return { release: () => rmSync(file, { force: true }), staleNote };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = readLockHolder(file);
      if (holder && (holder.host !== me.host || processAlive(holder.pid))) throw new ProjectLockedError(holder, file);
      staleNote = holder
        ? `removed a stale lock left by pid ${holder.pid} (started ${holder.started_at}), which is no longer running`
        : 'removed an unreadable lock file';
      rmSync(file, { force: true });
    }
  }
  throw new Error(`could not take the project lock ${file}`);
}
