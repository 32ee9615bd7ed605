// The stored objects an item's memoised rows point at. A memo hit is only as good as
// its files: an object deleted by hand (or by an older gc) turns the hit into a miss, so
// the item is made again instead of handing later stages a path to nothing. Checking
// costs a stat per object, so status checks only when the object folders changed since
// the last run that left every object in place.
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { hashValue } from './hash.js';
import type { State } from './state.js';
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

/** How many of a stage's current memo hits name an object that is gone. */
export async function itemsWithLostObjects(state: State, projectDir: string, stage: string, memoKey: string): Promise<number> {
  const rows = await state.query<{ objects: string }>(
    "SELECT objects FROM memo WHERE stage = $stage AND fp = $fp AND status = 'ok' AND coalesce(objects, '') <> ''",
    { stage, fp: memoKey },
  );
  return rows.filter((r) => lostObject(r.objects, projectDir)).length;
}
