// Session folders last found whole, remembered by their mtimes. A folder's mtime moves
// whenever an entry in it is added, removed or renamed, so while the rendered table and
// every folder's mtime are as they were, each folder still holds all the images the
// table names (less those pruned to the trash, which are part of the key) and status
// need not list 40,000 names again. A cache: losing the file costs one listing per
// folder; a folder that cannot be marked is simply listed.
import { readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../../src/atomic.js';

const wholeFoldersFile = z.object({
  /** what the folders had to hold when they were found whole: the rendered table's hash and the pruned images' */
  table: z.string(),
  /** session folder as the rows name it -> its mtime (ms) then */
  folders: z.record(z.string(), z.number()),
});
type WholeFolders = z.infer<typeof wholeFoldersFile>;

/**
 * A folder changed this recently could change again within the same tick of its mtime
 * and keep it: it is listed again next time rather than marked.
 */
const settleMs = 2000;

const marksPath = (dataDir: string) => join(dataDir, 'stages', 'generate', 'whole-folders.json');

function readMarks(dataDir: string): WholeFolders | undefined {
  try {
    return wholeFoldersFile.parse(JSON.parse(readFileSync(marksPath(dataDir), 'utf8')));
  } catch {
    return undefined;
  }
}

const mtimeOf = (projectDir: string, rel: string) => statSync(resolve(projectDir, rel), { throwIfNoEntry: false })?.mtimeMs;

/** Whether every folder is as it was when all of them were found whole holding `held`. */
export function foldersUnchanged(projectDir: string, dataDir: string, held: string): boolean {
  const marks = readMarks(dataDir);
  if (marks?.table !== held) return false;
  return Object.entries(marks.folders).every(([rel, mtime]) => mtimeOf(projectDir, rel) === mtime);
}

/** After every folder of the table was found whole: their mtimes, when all have settled. */
export async function markFoldersWhole(projectDir: string, dataDir: string, held: string, rels: string[]): Promise<void> {
  const settled = Date.now() - settleMs;
  const folders: Record<string, number> = {};
  for (const rel of rels) {
    const mtime = mtimeOf(projectDir, rel);
    if (mtime === undefined || mtime > settled) return;
    folders[rel] = mtime;
  }
  // A folder whose modes say read-only is left as it is (root could write it anyway): its folders are listed each time instead.
  const file = marksPath(dataDir);
  if (((statSync(dirname(file), { throwIfNoEntry: false })?.mode ?? 0) & 0o200) === 0) return;
  await writeFileAtomic(file, `${JSON.stringify({ table: held, folders })}\n`).catch(() => undefined);
}
