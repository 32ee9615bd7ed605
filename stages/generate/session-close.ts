// Session folders a killed run left `ongoing`: on a resume where nothing is left to
// render no session is opened, so they are closed here once all their images are in place.
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { removeStaleTemps } from '../../src/atomic.js';
import { readManifest } from './sessions.js';
import { writeFinishedManifest } from './session-restore.js';

/**
 * Close the session folders a killed run left `ongoing` though every image they list is
 * in place. `rows` are the stage's rows (session_dir project-relative, status); a
 * session with a failed image is closed as aborted, as the run that made it would have.
 */
export async function closeFinishedSessions(projectDir: string, dataDir: string, rows: { session_dir: string; status: string }[]): Promise<string[]> {
  const failed = new Set(rows.filter((r) => r.status === 'failed').map((r) => r.session_dir));
  const closed: string[] = [];
  for (const rel of new Set(rows.map((r) => r.session_dir))) {
    const dir = resolve(projectDir, rel);
    const manifest = await readManifest(dir);
    if (manifest?.status !== 'ongoing') continue;
    const present = await Promise.all(manifest.images.map((i) => stat(join(dir, i.filename)).then(() => true, () => false)));
    if (!present.every(Boolean)) continue;
    await removeStaleTemps(dir);
    manifest.status = failed.has(rel) ? 'aborted' : 'completed';
    await writeFinishedManifest(dataDir, dir, manifest);
    closed.push(rel);
  }
  return closed;
}
