// Content-addressed objects: data/objects/<first two hex>/<hash>.<ext>. Writing the same
// content twice writes nothing, so a resumed run never duplicates an image; but an object
// already there is checked against its name first (by its recorded stat when there is
// one), and a damaged one is written afresh. The store shares no hard link with a file a
// user or a tool may edit in place: putFile copies (a reflink where the file system can).
import { access, constants, copyFile, readFile, rm } from 'node:fs/promises';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { fileIdentity } from './memo-objects.js';
import { hashBytes } from './hash.js';
import { writeFileAtomic, produceAtomic } from './atomic.js';
import type { ObjectRef, ObjectStore } from './stage.js';
import type { ObjectStats } from './object-stats.js';

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** A reflink (copy-on-write, no bytes copied) where the file system has them, else a copy. */
export const cloneFile = (source: string, target: string) => copyFile(source, target, constants.COPYFILE_FICLONE);

/**
 * `objects`: the stats at which objects last matched their names (object-stats.ts); without
 * them an object found in place is read whole to be checked. `damaged`: the file identities
 * (memo-objects.ts fileIdentity) of the objects removed as damaged before this run.
 */
export function createObjectStore(root: string, objects?: ObjectStats, damaged: ReadonlySet<string> = new Set()): ObjectStore {
  const pathOf = (hash: string, ext: string) => join(root, hash.slice(0, 2), `${hash}.${ext.replace(/^\./, '')}`);
  /** Whether a stored object holds the bytes its name says. */
  const intact = async (hash: string, path: string) => {
    if (!(await exists(path))) return false;
    return objects ? objects.intact(path) : hashBytes(await readFile(path)) === hash;
  };
  // Status checks objects by their stats: one just written needs no reading back there.
  const written = (path: string) => objects?.written(path);
  return {
    pathOf,
    damagedLink(path: string) {
      const found = statSync(path, { throwIfNoEntry: false });
      return found !== undefined && damaged.has(fileIdentity(found));
    },
    async put(data: Uint8Array, ext: string): Promise<ObjectRef> {
      const hash = hashBytes(data);
      const path = pathOf(hash, ext);
      if (!(await intact(hash, path))) {
        await writeFileAtomic(path, data);
        written(path);
      }
      return { hash, path };
    },
    async putFile(file: string, ext: string): Promise<ObjectRef> {
      const hash = hashBytes(await readFile(file));
      const path = pathOf(hash, ext);
      if (!(await intact(hash, path))) {
        await produceAtomic(path, (tmp) => cloneFile(file, tmp));
        written(path);
      }
      return { hash, path };
    },
    async verified(hash: string, ext: string): Promise<string | undefined> {
      const path = pathOf(hash, ext);
      if (!(await exists(path))) return undefined;
      if (await intact(hash, path)) return path;
      // Wrong bytes under a content name are worth nothing; gone, the memo sees the object as lost and the item is made again.
      await rm(path, { force: true });
      return undefined;
    },
  };
}
