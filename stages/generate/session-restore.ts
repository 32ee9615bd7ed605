// Session folders put back. Each finished manifest is also kept under the stage's own
// folder in data/, and every image is in the object store, so a session folder deleted
// by hand comes back byte for byte: the images linked from the store under the names the
// stage's rows record, the manifest copied from what was kept. Images `pipeline prune`
// took out stay in the trash.
import { existsSync, readdirSync } from 'node:fs';
import { copyFile, link, readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { produceAtomic, writeFileAtomic } from '../../src/atomic.js';
import { hashValue } from '../../src/hash.js';
import { prunedImageIds, readPruneRecords } from '../catalog/pruned.js';
import type { InputArtifact, StageContext } from '../../src/stage.js';
import { foldersUnchanged, markFoldersWhole } from './whole-folders.js';

/** The rendered columns a folder is put back from. */
export interface PlacedImage {
  image_id: string;
  path: string;
  session_dir: string;
  filename: string;
  status: string;
}

/** Manifest entries made into text at a time: 500 are about 200 KB. */
const entriesPerPiece = 500;

/**
 * The manifest as written, one format for every writer (the kept copy must be its exact
 * bytes): JSON with two-space indentation and a final newline, in pieces. The images of a
 * 100,000-image session are 37 MB of text, rewritten as the session grows; made a piece at
 * a time, the whole text never exists.
 */
export function* manifestPieces(manifest: object): Generator<string> {
  const fields = Object.entries(manifest).filter(([, value]) => value !== undefined);
  yield '{';
  for (const [i, [key, value]] of fields.entries()) {
    yield `${i > 0 ? ',' : ''}\n  ${JSON.stringify(key)}: `;
    if (key !== 'images' || !Array.isArray(value) || value.length === 0) {
      yield JSON.stringify(value, null, 2).replaceAll('\n', '\n  ');
      continue;
    }
    yield '[';
    for (let at = 0; at < value.length; at += entriesPerPiece) {
      const entries = value.slice(at, at + entriesPerPiece).map((entry, j) => `${at + j > 0 ? ',' : ''}\n    ${JSON.stringify(entry, null, 2).replaceAll('\n', '\n    ')}`);
      yield entries.join('');
    }
    yield '\n  ]';
  }
  yield fields.length > 0 ? '\n}\n' : '}\n';
}

/** Where a session folder's last finished manifest is kept (by folder name, so a moved project finds it). */
export const keptManifestPath = (dataDir: string, dir: string) => join(dataDir, 'stages', 'generate', 'manifests', `${basename(dir)}.json`);

/** Write a finished manifest into its folder and keep its copy (the file's bytes copied, not made into text again). */
export async function writeFinishedManifest(dataDir: string, dir: string, manifest: object): Promise<void> {
  const written = join(dir, 'manifest.json');
  await writeFileAtomic(written, manifestPieces(manifest));
  await produceAtomic(keptManifestPath(dataDir, dir), (tmp) => copyFile(written, tmp));
}

/** A folder this run left as it found it: its manifest's bytes kept as they are, where no copy was kept yet. */
export async function keepUnchangedManifest(dataDir: string, dir: string): Promise<void> {
  const kept = keptManifestPath(dataDir, dir);
  if (!existsSync(kept)) await produceAtomic(kept, (tmp) => copyFile(join(dir, 'manifest.json'), tmp));
}

/** An image a folder must hold, by the name the rows give it there. */
type HeldImage = Pick<PlacedImage, 'image_id' | 'filename'>;

/** What is gone of one session folder: all of it, or its manifest (where a copy was kept) and the images its rows name. */
interface FolderLoss<T extends HeldImage> {
  folder: boolean;
  manifest: boolean;
  images: T[];
}

/** The images a folder must hold: the rows' rendered images, less those `pipeline prune` took out to the trash. */
function placedByFolder(rows: PlacedImage[]): Map<string, PlacedImage[]> {
  const byFolder = new Map<string, PlacedImage[]>();
  for (const row of rows) {
    if (!row.session_dir) continue;
    const images = byFolder.get(row.session_dir) ?? [];
    if (row.status !== 'failed' && row.filename) images.push(row);
    byFolder.set(row.session_dir, images);
  }
  return byFolder;
}

/** One listing per folder (cheaper than a stat per image): cheap enough for every status. */
function lossOf<T extends HeldImage>(dataDir: string, dir: string, images: T[]): FolderLoss<T> | undefined {
  if (!existsSync(dir)) return { folder: true, manifest: true, images };
  const names = new Set(readdirSync(dir));
  const manifest = !names.has('manifest.json') && existsSync(keptManifestPath(dataDir, dir));
  const lost = images.filter((image) => !names.has(image.filename));
  return manifest || lost.length > 0 ? { folder: false, manifest, images: lost } : undefined;
}

/** The losses of every folder, by folder as the rows name it; images `pipeline prune` took out stay in the trash. */
async function folderLosses<T extends HeldImage>(ctx: StageContext, byFolder: Map<string, T[]>, pruned: Set<string>): Promise<[string, FolderLoss<T>][]> {
  return [...byFolder].flatMap(([rel, images]): [string, FolderLoss<T>][] => {
    const loss = lossOf(ctx.dataDir, resolve(ctx.projectDir, rel), pruned.size ? images.filter((i) => !pruned.has(i.image_id)) : images);
    return loss ? [[rel, loss]] : [];
  });
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

function describeLoss(rel: string, loss: FolderLoss<HeldImage>): string[] {
  if (loss.folder) return [`session folder ${rel} is missing: the run puts it back from the store`];
  return [
    ...(loss.images.length > 0 ? [`${plural(loss.images.length, 'image')} missing from session folder ${rel}: the run puts them back from the store`] : []),
    ...(loss.manifest ? [`manifest.json of session folder ${rel} is missing: the run puts back its copy`] : []),
  ];
}

/** Status: the session folders, manifests and images the current rows name that are gone. */
export async function missingSessionFolders(ctx: StageContext, rendered: InputArtifact | undefined): Promise<string[]> {
  if (rendered?.kind !== 'table') return [];
  // The images a folder must hold are the table's less the pruned ones: both key what was found whole.
  const pruned = prunedImageIds(await readPruneRecords(ctx.dataDir));
  const held = `${rendered.hash}:${hashValue([...pruned].sort())}`;
  if (foldersUnchanged(ctx.projectDir, ctx.dataDir, held)) return [];
  // One string per folder instead of a row object per image: 20,000 images convert in a fraction of the time.
  const folders = await ctx.sql<{ session_dir: string; held: string | null }>(
    `SELECT session_dir, string_agg(image_id || chr(9) || filename, chr(10)) FILTER (WHERE status <> 'failed' AND filename <> '') AS held
     FROM read_parquet('${rendered.path.replaceAll("'", "''")}') WHERE session_dir <> '' GROUP BY session_dir ORDER BY session_dir`,
  );
  const byFolder = new Map(folders.map(({ session_dir, held }): [string, HeldImage[]] => [session_dir, held ? held.split('\n').map((line) => {
    const [image_id, filename] = line.split('\t') as [string, string];
    return { image_id, filename };
  }) : []]));
  const losses = await folderLosses(ctx, byFolder, pruned);
  if (losses.length === 0) await markFoldersWhole(ctx.projectDir, ctx.dataDir, held, [...byFolder.keys()]);
  return losses.flatMap(([rel, loss]) => describeLoss(rel, loss));
}

/** Put back the session folders, manifests and images that are gone; returns the folders touched (as the rows name them). */
export async function restoreSessionFolders(ctx: StageContext, rows: PlacedImage[]): Promise<string[]> {
  const restored: string[] = [];
  for (const [rel, loss] of await folderLosses(ctx, placedByFolder(rows), prunedImageIds(await readPruneRecords(ctx.dataDir)))) {
    const dir = resolve(ctx.projectDir, rel);
    const kept = await readFile(keptManifestPath(ctx.dataDir, dir)).catch(() => null);
    for (const image of loss.images) {
      const source = resolve(ctx.projectDir, image.path);
      if (existsSync(source)) await produceAtomic(join(dir, image.filename), (tmp) => link(source, tmp).catch(() => copyFile(source, tmp)));
    }
    if (loss.folder && !kept) ctx.warn(`session folder ${rel} was put back without its manifest.json: no copy of it was kept (made by an older sdloop)`);
    if (loss.manifest && kept) await writeFileAtomic(join(dir, 'manifest.json'), kept);
    restored.push(rel);
  }
  return restored;
}
