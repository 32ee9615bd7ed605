// The stored objects an item's memoised rows point at. A memo hit is only as good as
// its files: an object deleted by hand (or by an older gc) turns the hit into a miss, so
// the item is made again instead of handing later stages a path to nothing. An object
// whose bytes changed in place (garbled, truncated through a hard link) is as good as
// gone: status stats every object a stage's hits name and hashes only those whose stat
// moved (object-stats.ts), and the run removes them so their items are made again.
import { readdirSync, rmSync, statSync, existsSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { hashValue } from './hash.js';
import type { State } from './state.js';
import type { StatCache } from './stat-cache.js';
import type { Row } from './stage.js';

/** Project-relative paths of the objects a row's string cells name, absolute or relative. */
export function objectRefs(rows: Row[], projectDir: string, objectsRoot: string): string[] {
  const found = new Set<string>();
  const inside = objectsRoot + sep;
  for (const row of rows) {
    for (const value of Object.values(row)) {
      if (typeof value !== 'string' || !value.includes('objects')) continue;
      const abs = resolve(projectDir, value);
      if (abs.startsWith(inside)) found.add(relative(projectDir, abs));
    }
  }
  return [...found].sort();
}

/** Joined as the memo's `objects` cell: '' when the item names none. */
export const joinRefs = (refs: string[]): string => refs.join('\t');

/** True when an object a memo row names is gone. */
export function lostObject(objects: string, projectDir: string): boolean {
  if (!objects) return false;
  return objects.split('\t').some((rel) => !existsSync(join(projectDir, rel)));
}

/** The object folders' names and mtimes: deleting or adding an object changes its folder's mtime. */
function objectsSignature(objectsRoot: string): string {
  let dirs: string[];
  try {
    dirs = readdirSync(objectsRoot).sort();
  } catch {
    return 'none';
  }
  return hashValue(dirs.map((d) => [d, statSync(join(objectsRoot, d), { throwIfNoEntry: false })?.mtimeMs ?? 0]));
}

const signatureKey = 'objects_checked';

/** Whether the object store is as the last complete run (or gc) left it, every object in place. */
export async function objectsAsLeft(state: State, objectsRoot: string): Promise<boolean> {
  const rows = await state.query<{ value: string }>('SELECT value FROM meta WHERE key = $key', { key: signatureKey });
  return rows[0]?.value === objectsSignature(objectsRoot);
}

/** After a run that checked every stage, or a gc that deleted only what nothing names. */
export async function recordObjectsChecked(state: State, objectsRoot: string): Promise<void> {
  const value = objectsSignature(objectsRoot);
  await state.transaction(async (c) => {
    await c.run('DELETE FROM meta WHERE key = $key', { key: signatureKey });
    await c.run('INSERT INTO meta VALUES ($key, $value)', { key: signatureKey, value });
  });
}

/** What is wrong with the stored objects of a stage's current memo hits. */
export interface ObjectProblems {
  /** hits naming an object that is gone or damaged: made again by the next run */
  items: number;
  /** project-relative paths of objects whose bytes no longer hash to their names */
  damaged: string[];
}

/** The current hits' objects, one row each: the `path` column an ObjectStats check reads. */
const hitObjects = `SELECT unnest(string_split(objects, chr(9))) AS path FROM memo
  WHERE stage = $stage AND fp = $fp AND status = 'ok' AND coalesce(objects, '') <> ''`;

/**
 * Every object the current hits name, by its recorded stat (object-stats.ts): a stat each
 * while nothing moved, the bytes read of those whose size, mtime or inode did.
 */
export async function storedObjectProblems(state: State, stats: StatCache, projectDir: string, stage: string, memoKey: string): Promise<ObjectProblems> {
  const { bad, damaged } = await stats.objects.check(projectDir, stage, hitObjects, { stage, fp: memoKey });
  if (bad.size === 0) return { items: 0, damaged };
  // Only when something is wrong: the hits themselves, to count those that name it.
  const rows = await state.query<{ dump: string | null }>(
    "SELECT string_agg(objects, chr(10)) AS dump FROM memo WHERE stage = $stage AND fp = $fp AND status = 'ok' AND coalesce(objects, '') <> ''",
    { stage, fp: memoKey },
  );
  const items = rows[0]?.dump ? rows[0].dump.split('\n').map((line) => line.split('\t')) : [];
  return { items: items.filter((refs) => refs.some((r) => bad.has(r))).length, damaged };
}

/** A file's identity on disk: every hard link of it shares it. */
export const fileIdentity = (s: { dev: number; ino: number }) => `${s.dev}:${s.ino}`;

/**
 * Before a map stage runs: its hits' damaged objects removed, so that those items are made
 * again. Returns their file identities: a hard link the stage made of one holds the same
 * wrong bytes, and is the stage's to replace with what it makes again.
 */
export async function removeDamagedObjects(state: State, stats: StatCache, projectDir: string, stage: string, memoKey: string, note: (message: string) => void): Promise<Set<string>> {
  const { damaged } = await storedObjectProblems(state, stats, projectDir, stage, memoKey);
  const removed = new Set<string>();
  if (damaged.length === 0) return removed;
  for (const path of damaged) {
    const found = statSync(join(projectDir, path), { throwIfNoEntry: false });
    if (found) removed.add(fileIdentity(found));
    rmSync(join(projectDir, path), { force: true });
  }
  const n = damaged.length;
  note(`removed ${n} damaged stored object${n === 1 ? '' : 's'} (${damaged.slice(0, 3).join(', ')}${n > 3 ? ', ...' : ''}); their items are made again`);
  return removed;
}
