// Session folders put back. Each finished manifest is also kept under the stage's own
// folder in data/, and every image is in the object store, so a session folder deleted
// by hand comes back byte for byte: the images linked from the store under the names the
// stage's rows record, the manifest copied from what was kept. Images `pipeline prune`
// took out stay in the trash.
import { existsSync } from 'node:fs';
import { copyFile, link, readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { produceAtomic, writeFileAtomic } from '../../src/atomic.js';
import { prunedImageIds, readPruneRecords } from '../catalog/pruned.js';
import type { InputArtifact, StageContext } from '../../src/stage.js';

/** The rendered columns a folder is put back from. */
export interface PlacedImage {
  image_id: string;
  path: string;
  session_dir: string;
  filename: string;
  status: string;
}

/** The manifest as written, one format for every writer: the kept copy must be its exact bytes. */
export const manifestText = (manifest: unknown) => `${JSON.stringify(manifest, null, 2)}\n`;

/** Where a session folder's last finished manifest is kept (by folder name, so a moved project finds it). */
export const keptManifestPath = (dataDir: string, dir: string) => join(dataDir, 'stages', 'generate', 'manifests', `${basename(dir)}.json`);

/** Write a finished manifest into its folder and keep its copy. */
export async function writeFinishedManifest(dataDir: string, dir: string, manifest: unknown): Promise<void> {
  const text = manifestText(manifest);
  await writeFileAtomic(join(dir, 'manifest.json'), text);
  await writeFileAtomic(keptManifestPath(dataDir, dir), text);
}

/** A folder this run left as it found it: its manifest's bytes kept as they are, where no copy was kept yet. */
export async function keepUnchangedManifest(dataDir: string, dir: string): Promise<void> {
  const kept = keptManifestPath(dataDir, dir);
  if (!existsSync(kept)) await produceAtomic(kept, (tmp) => copyFile(join(dir, 'manifest.json'), tmp));
}

/** What is gone of each session folder: the folder, or its manifest where a copy was kept. */
function gone(dataDir: string, dir: string): 'folder' | 'manifest' | undefined {
  if (!existsSync(dir)) return 'folder';
  return !existsSync(join(dir, 'manifest.json')) && existsSync(keptManifestPath(dataDir, dir)) ? 'manifest' : undefined;
}

/** Status: the session folders (and manifests) the current rows name that are gone. */
export async function missingSessionFolders(ctx: StageContext, rendered: InputArtifact | undefined): Promise<string[]> {
  if (rendered?.kind !== 'table') return [];
  const rows = await ctx.sql<{ session_dir: string }>(`SELECT DISTINCT session_dir FROM read_parquet('${rendered.path.replaceAll("'", "''")}') WHERE session_dir <> '' ORDER BY 1`);
  return rows.flatMap(({ session_dir }) => {
    const what = gone(ctx.dataDir, resolve(ctx.projectDir, session_dir));
    if (!what) return [];
    return [what === 'folder' ? `session folder ${session_dir} is missing: the run puts it back from the store` : `manifest.json of session folder ${session_dir} is missing: the run puts back its copy`];
  });
}

/** Put back the session folders and manifests that are gone; returns the folders touched (as the rows name them). */
export async function restoreSessionFolders(ctx: StageContext, rows: PlacedImage[]): Promise<string[]> {
  const pruned = prunedImageIds(await readPruneRecords(ctx.dataDir));
  const restored: string[] = [];
  for (const rel of new Set(rows.map((r) => r.session_dir).filter(Boolean))) {
    const dir = resolve(ctx.projectDir, rel);
    const what = gone(ctx.dataDir, dir);
    if (!what) continue;
    const kept = await readFile(keptManifestPath(ctx.dataDir, dir)).catch(() => null);
    if (what === 'folder') {
      const images = rows.filter((r) => r.session_dir === rel && r.status !== 'failed' && r.filename && !pruned.has(r.image_id));
      for (const image of images) {
        const source = resolve(ctx.projectDir, image.path);
        if (existsSync(source)) await produceAtomic(join(dir, image.filename), (tmp) => link(source, tmp).catch(() => copyFile(source, tmp)));
      }
      if (!kept) ctx.warn(`session folder ${rel} was put back without its manifest.json: no copy of it was kept (made by an older sdloop)`);
    }
    if (kept) await writeFileAtomic(join(dir, 'manifest.json'), kept);
    restored.push(rel);
  }
  return restored;
}
