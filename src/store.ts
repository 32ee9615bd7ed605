// Content-addressed objects: data/objects/<first two hex>/<hash>.<ext>. Writing the same
// content twice is a no-op, so a resumed run never duplicates an image.
import { access, link, copyFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hashBytes } from './hash.js';
import { writeFileAtomic, produceAtomic } from './atomic.js';
import type { ObjectRef, ObjectStore } from './stage.js';

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

export function createObjectStore(root: string): ObjectStore {
  const pathOf = (hash: string, ext: string) => join(root, hash.slice(0, 2), `${hash}.${ext.replace(/^\./, '')}`);
  return {
    pathOf,
    async put(data: Uint8Array, ext: string): Promise<ObjectRef> {
      const hash = hashBytes(data);
      const path = pathOf(hash, ext);
      if (!(await exists(path))) await writeFileAtomic(path, data);
      return { hash, path };
    },
    async putFile(file: string, ext: string): Promise<ObjectRef> {
      const hash = hashBytes(await readFile(file));
      const path = pathOf(hash, ext);
      if (!(await exists(path))) {
        await produceAtomic(path, (tmp) => link(file, tmp).catch(() => copyFile(file, tmp)));
      }
      return { hash, path };
    },
  };
}
