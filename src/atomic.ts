// Every file the engine or a stage writes goes through here: a temporary name in the
// same folder, then rename, so a killed process never leaves a half-written file visible.
// The file is flushed before the rename and its folder after it: without both, a power
// loss can leave the new name pointing at an empty file, or the old name back.
import { mkdir, open, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';
import { randomBytes } from 'node:crypto';
import { processAlive } from './pid.js';

export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

const tempName = /^\..+\.(\d+)\.[0-9a-f]{8}\.tmp$/;

/** Remove the temporary files a killed process left in `dir` (never those of a live one). */
export async function removeStaleTemps(dir: string): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const pid = tempName.exec(name)?.[1];
    if (pid && Number(pid) !== process.pid && !processAlive(Number(pid))) {
      await rm(join(dir, name), { recursive: true, force: true });
      removed.push(name);
    }
  }
  return removed;
}

/** removeStaleTemps in `root` and every folder below it; returns the removed paths, relative to `root`. */
export async function removeStaleTempsUnder(root: string): Promise<string[]> {
  const removed = await removeStaleTemps(root);
  const entries = await readdir(root, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (!entry.isDirectory() || tempName.test(entry.name)) continue;
    for (const name of await removeStaleTempsUnder(join(root, entry.name))) removed.push(join(entry.name, name));
  }
  return removed;
}

/** Flush a file's (or a folder's) contents to disk. */
export async function syncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Rename `tmp` to `path` durably: the data first, then the folder entry that names it. */
export async function renameDurably(tmp: string, path: string): Promise<void> {
  await syncPath(tmp);
  await rename(tmp, path);
  await syncPath(dirname(path));
}

/** Write `data` (bytes, text, or text in pieces) to a temporary file, then rename it into place durably. */
export async function writeFileAtomic(path: string, data: Uint8Array | string | Iterable<string>): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempPathFor(path);
  try {
    await writeFile(tmp, data);
    await renameDurably(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
}

/** Let `produce` write to a temporary path, then move it into place (files or folders). */
export async function produceAtomic(path: string, produce: (tmp: string) => Promise<void>): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempPathFor(path);
  try {
    await produce(tmp);
    await rm(path, { recursive: true, force: true });
    await renameDurably(tmp, path);
  } catch (error) {
    await rm(tmp, { recursive: true, force: true });
    throw error;
  }
}
