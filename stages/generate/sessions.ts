// Session folders for people, as sdgen writes them: `YYYYMMDD_HHMMSS-<session>[-<theme>-
// <style>]`, the images hard-linked from the object store under sdgen's names, and a
// manifest.json in sdgen's v2 format whose status goes ongoing -> completed | aborted.
// The manifest is rewritten atomically as images are added (writes coalesce under load,
// and are spaced so writing a long manifest takes a fifth of the time at most), and
// written before their results are committed, so a crash leaves it listing the images
// present but the last few, whose items a rerun renders and re-lists. A later run of the same
// session on the same checkpoint extends its newest folder in place (a crash's leftovers,
// a value added to a variations file, a higher count); a file already there is never
// overwritten by a different image.
import { link, copyFile, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { produceAtomic, removeStaleTemps, writeFileAtomic } from '../../src/atomic.js';
import { stableStringify } from '../../src/hash.js';
import type { PromptRow } from '../../schemas/tables.js';
import { keepUnchangedManifest, manifestPieces, writeFinishedManifest } from './session-restore.js';

export const manifestImage = z.object({
  filename: z.string(),
  seed: z.number().int(),
  prompt: z.string(),
  negative_prompt: z.string(),
  applied_variations: z.record(z.string(), z.string()),
});

export const sessionManifest = z.object({
  snapshot: z.looseObject({
    version: z.literal('2.0'),
    timestamp: z.string(),
    runtime_info: z.looseObject({ sd_model_checkpoint: z.string() }),
  }),
  images: z.array(manifestImage),
  status: z.enum(['ongoing', 'completed', 'aborted']),
});
export type SessionManifest = z.infer<typeof sessionManifest>;
export type ManifestImage = z.infer<typeof manifestImage>;

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

export function folderTimestamp(date: Date): string {
  return `${date.getFullYear()}${pad(date.getMonth() + 1)}${pad(date.getDate())}_${pad(date.getHours())}${pad(date.getMinutes())}${pad(date.getSeconds())}`;
}

/** Characters a file name cannot safely hold become `_`. */
function safeName(text: string): string {
  return text.replace(/[\\/:*?"<>|\u0000-\u001f]/g, '_');
}

export function sessionSuffix(session: string, theme: string | null, style: string | null): string {
  return safeName(theme ? `${session}-${theme}-${style ?? 'default'}` : session);
}

export function slug(text: string): string {
  return text.toLowerCase().normalize('NFKD').replace(/[^\p{L}\p{N}]+/gu, '-').replace(/^-+|-+$/g, '') || 'x';
}

/** The text the row's axis rendered (its `main` part for multipart values). */
function appliedText(row: PromptRow, axis: string): string {
  return row.variations[axis]!.text;
}

function filenameKeys(row: PromptRow): string[] {
  const m = row.manifest as { filename_keys?: unknown; output?: { filename_keys?: unknown } };
  const keys = m.filename_keys ?? m.output?.filename_keys;
  return Array.isArray(keys) ? keys.map(String) : [];
}

/** A variation key as a file name part: `PunkMohawk` -> `punk-mohawk`, `Streetwear` -> `streetwear`. */
export function keySlug(key: string): string {
  return slug(key.replace(/(\p{Ll}|\p{N})(\p{Lu})/gu, '$1-$2'));
}

/**
 * sdgen's `<session>_<idx:04d>_seed-<seed>.png`; with output.filename_keys the chosen KEYS of
 * those placeholders instead of the seed (`portrait_0007_streetwear_punk-mohawk.png`): keys
 * are short and stable, value texts are neither.
 */
export function imageFileName(row: PromptRow, seed: number, idx = row.idx): string {
  const keys = filenameKeys(row).filter((k) => row.variations[k]);
  const tail = keys.length ? keys.map((k) => keySlug(row.variations[k]!.key)).join('_') : `seed-${seed}`;
  return safeName(`${row.session}_${pad(idx, 4)}_${tail}.png`);
}

export function manifestEntry(row: PromptRow, filename: string, seed: number): ManifestImage {
  const applied = Object.fromEntries(Object.keys(row.variations).map((axis) => [axis, appliedText(row, axis)]));
  return { filename, seed, prompt: row.prompt, negative_prompt: row.negative_prompt, applied_variations: applied };
}

/** The manifest snapshot's `variations` (sdgen's value lists) of a planned file, by id. */
export type ManifestVariations = (id: string) => Record<string, unknown> | undefined;

/** The plan as of this run; an extended folder keeps the time it was started at. */
function snapshotOf(row: PromptRow, checkpoint: string, variations: ManifestVariations, timestamp = new Date().toISOString()): SessionManifest['snapshot'] {
  const { version: _v, timestamp: _t, runtime_info: _r, filename_keys: _f, ...planned } = row.manifest as Record<string, unknown>;
  const lists = variations(row.manifest_variations);
  return {
    theme_name: row.theme,
    style: row.style,
    ...planned,
    ...(lists ? { variations: lists } : {}),
    version: '2.0',
    timestamp,
    runtime_info: { sd_model_checkpoint: checkpoint },
  };
}

export async function readManifest(dir: string): Promise<SessionManifest | null> {
  try {
    return sessionManifest.parse(JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')));
  } catch {
    return null;
  }
}

/** The newest folder of this session rendered on this checkpoint, if a previous run left one. */
async function latestFolder(root: string, suffix: string, checkpoint: string): Promise<{ dir: string; manifest: SessionManifest } | null> {
  const names = await readdir(root).catch(() => [] as string[]);
  const candidates = names.filter((n) => /^\d{8}_\d{6}-/.test(n) && n.slice(16) === suffix).sort().reverse();
  for (const name of candidates) {
    const manifest = await readManifest(join(root, name));
    if (manifest?.snapshot.runtime_info.sd_model_checkpoint === checkpoint) return { dir: join(root, name), manifest };
  }
  return null;
}

/** Whether a file is a hard link of a stored object removed as damaged (ObjectStore.damagedLink). */
export type DamagedLink = (path: string) => boolean;

/**
 * 'same' when the file already holds the stored image, 'free' when nothing is there,
 * 'damaged' when it is this folder's link of a stored object found damaged (made by
 * generate: an imported file is a copy, never a link), else 'other'.
 */
async function occupant(source: string, target: string, damagedLink: DamagedLink): Promise<'same' | 'free' | 'damaged' | 'other'> {
  const [a, b] = await Promise.all([stat(source), stat(target).catch(() => null)]);
  if (!b) return 'free';
  if (a.ino === b.ino && a.dev === b.dev) return 'same';
  if (damagedLink(target)) return 'damaged';
  if (a.size !== b.size) return 'other';
  const [x, y] = await Promise.all([readFile(source), readFile(target)]);
  return x.equals(y) ? 'same' : 'other';
}

/** Hard-link the stored object under its session name (copy across file systems). */
async function linkInto(source: string, target: string): Promise<void> {
  await produceAtomic(target, (tmp) => link(source, tmp).catch(() => copyFile(source, tmp)));
}

const indexPattern = /_(\d{4,})_/;

/** One past the highest image index in the folder: where an image goes whose planned name is taken. */
async function nextFreeIndex(dir: string, session: string): Promise<number> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const taken = names.filter((n) => n.startsWith(`${session}_`)).map((n) => Number(indexPattern.exec(n.slice(session.length))?.[1] ?? -1));
  return Math.max(-1, ...taken) + 1;
}

/** A manifest write waits this many times as long as the previous one took: at most a fifth of the time goes to writing. */
const writeSpacing = 4;

class Session {
  private writing: Promise<void> = Promise.resolve();
  private placing: Promise<unknown> = Promise.resolve();
  private dirty = false;
  private recorded = false;
  private lastWriteMs = 0;
  /** the manifest's images by file name: finding one must not scan a list of 100,000 */
  private readonly images: Map<string, ManifestImage>;
  /** a finished folder reopened to extend it; an unfinished one is a crashed run's, to complete */
  private readonly reopenedFinished: boolean;
  constructor(
    readonly dir: string,
    private readonly manifest: SessionManifest,
    /** a reopened folder's plan as of this run: it replaces the recorded one once an image is added */
    private readonly damagedLink: DamagedLink,
    private replan?: SessionManifest['snapshot'],
  ) {
    this.images = new Map(manifest.images.map((i) => [i.filename, i]));
    this.reopenedFinished = manifest.status === 'completed' && manifest.images.length > 0;
  }

  /**
   * Whether this image is a new picture of a planned image the finished folder already
   * holds (its request changed: a LoRA promoted, a renderer bumped). Such a run is a new
   * session, as sdgen would make it, rather than a second copy of every name here.
   */
  async holdsOtherRender(row: PromptRow, seed: number, source: string): Promise<boolean> {
    if (!this.reopenedFinished) return false;
    const planned = manifestEntry(row, imageFileName(row, seed), seed);
    const held = this.images.get(planned.filename);
    if (!held || stableStringify(held) !== stableStringify(planned)) return false;
    return (await occupant(source, join(this.dir, planned.filename), this.damagedLink)) === 'other';
  }

  /**
   * Link the image and record it; where its planned name holds another image, it takes the
   * next free index. The manifest write it asks for is not waited for here: flush() is,
   * before the image's result is committed, so rendering goes on while a long manifest is written.
   */
  async add(row: PromptRow, seed: number, source: string): Promise<string> {
    const filename = await this.place(row, seed, source);
    this.record(manifestEntry(row, filename, seed));
    // A failed write is not lost: every later save and flush rejects with it.
    this.save().catch(() => undefined);
    return filename;
  }

  /** Resolves once every image recorded so far is in the manifest on disk. */
  flush(): Promise<void> {
    return this.writing;
  }

  /** One image placed at a time: two taking the next free index at once would take the same one. */
  private place(row: PromptRow, seed: number, source: string): Promise<string> {
    const placed = this.placing.then(async () => {
      let filename = imageFileName(row, seed);
      let found = await occupant(source, join(this.dir, filename), this.damagedLink);
      if (found === 'other') {
        filename = imageFileName(row, seed, await nextFreeIndex(this.dir, safeName(row.session)));
        found = 'free';
      }
      // The damaged link is replaced in place, by a rename: the folder keeps its names.
      if (found === 'free' || found === 'damaged') await linkInto(source, join(this.dir, filename));
      return filename;
    });
    this.placing = placed.catch(() => undefined);
    return placed;
  }

  /** Mark the folder finished and keep a copy of its manifest; one this run left as it found it is not rewritten. */
  async finish(status: SessionManifest['status'], dataDir: string): Promise<void> {
    await this.writing;
    if (!this.recorded && this.manifest.status === status) return keepUnchangedManifest(dataDir, this.dir);
    this.manifest.status = status;
    await writeFinishedManifest(dataDir, this.dir, this.current());
  }

  /** The manifest with every image recorded, in plan order (names carry the zero-padded index), whatever order they finished in. */
  private current(): SessionManifest {
    this.manifest.images = [...this.images.values()].sort((a, b) => (a.filename < b.filename ? -1 : a.filename > b.filename ? 1 : 0));
    return this.manifest;
  }

  private record(entry: ManifestImage): void {
    this.recorded = true;
    if (this.replan) [this.manifest.snapshot, this.replan] = [this.replan, undefined];
    this.images.set(entry.filename, entry);
    this.manifest.status = 'ongoing';
  }

  /** One write in flight; changes made meanwhile go out together in the next one. */
  save(): Promise<void> {
    this.dirty = true;
    this.writing = this.writing.then(async () => {
      if (!this.dirty) return;
      await new Promise((wake) => setTimeout(wake, this.lastWriteMs * writeSpacing));
      this.dirty = false;
      const started = performance.now();
      await writeFileAtomic(join(this.dir, 'manifest.json'), manifestPieces(this.current()));
      this.lastWriteMs = performance.now() - started;
    });
    return this.writing;
  }
}

/** A folder name of this session that no folder has yet (two runs can start in one second). */
async function freshFolder(root: string, suffix: string): Promise<string> {
  const names = new Set(await readdir(root).catch(() => [] as string[]));
  let at = Date.now();
  while (names.has(`${folderTimestamp(new Date(at))}-${suffix}`)) at += 1000;
  return join(root, `${folderTimestamp(new Date(at))}-${suffix}`);
}

/** The session folders of one generate run. */
export class SessionBook {
  private sessions = new Map<string, Promise<Session>>();
  /** per session, the new folder of images that re-render what its latest folder holds */
  private rerenders = new Map<string, Promise<Session>>();
  constructor(
    readonly root: string,
    /** the checkpoint title the runtime_info records */
    readonly checkpoint: string,
    /** the project's data folder, where finished manifests are kept (session-restore.ts) */
    private readonly dataDir: string,
    /** the snapshot's value lists by a row's manifest_variations (table planned_manifests) */
    private readonly variations: ManifestVariations = () => undefined,
    /** the session files that are links of damaged stored objects: replaced where they are */
    private readonly damagedLink: DamagedLink = () => false,
  ) {}

  private async create(row: PromptRow, suffix: string): Promise<Session> {
    const s = new Session(await freshFolder(this.root, suffix), { snapshot: snapshotOf(row, this.checkpoint, this.variations), images: [], status: 'ongoing' }, this.damagedLink);
    await s.save();
    return s;
  }

  private async reopenOrCreate(row: PromptRow, suffix: string): Promise<Session> {
    const found = await latestFolder(this.root, suffix, this.checkpoint);
    if (!found) return this.create(row, suffix);
    // A killed run may have left a half-written manifest or image under a temporary name.
    await removeStaleTemps(found.dir);
    return new Session(found.dir, found.manifest, this.damagedLink, snapshotOf(row, this.checkpoint, this.variations, found.manifest.snapshot.timestamp));
  }

  private open(row: PromptRow, books = this.sessions, make = (suffix: string) => this.reopenOrCreate(row, suffix)): Promise<Session> {
    const suffix = sessionSuffix(row.session, row.theme, row.style);
    let session = books.get(suffix);
    if (!session) books.set(suffix, (session = make(suffix)));
    return session;
  }

  /** Link one image into its session and record it; returns where it went. */
  async add(row: PromptRow, source: string, seed: number): Promise<{ dir: string; filename: string }> {
    let session = await this.open(row);
    if (await session.holdsOtherRender(row, seed, source)) session = await this.open(row, this.rerenders, (suffix) => this.create(row, suffix));
    return { dir: session.dir, filename: await session.add(row, seed, source) };
  }

  /** The folder a row goes to, without adding anything (for images that failed). */
  async folderOf(row: PromptRow): Promise<string> {
    return (await this.open(row)).dir;
  }

  /** Every session's manifest written with the images recorded so far. */
  async flush(): Promise<void> {
    for (const books of [this.sessions, this.rerenders]) for (const pending of books.values()) await (await pending).flush();
  }

  async close(status: 'completed' | 'aborted', failedSessions: Set<string> = new Set()): Promise<void> {
    for (const books of [this.sessions, this.rerenders]) {
      for (const [suffix, pending] of books) {
        await (await pending).finish(failedSessions.has(suffix) ? 'aborted' : status, this.dataDir);
      }
    }
  }
}

