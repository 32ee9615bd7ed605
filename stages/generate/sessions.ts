// Session folders for people, as sdgen writes them: `YYYYMMDD_HHMMSS-<session>[-<theme>-
// <style>]`, the images hard-linked from the object store under sdgen's names, and a
// manifest.json in sdgen's v2 format whose status goes ongoing -> completed | aborted.
// The manifest is rewritten atomically after every image (writes coalesce under load),
// so a crash leaves it listing exactly the images present; a rerun reopens the
// unfinished folder and adds the rest without duplicates.
import { link, copyFile, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { produceAtomic, removeStaleTemps, writeFileAtomic } from '../../src/atomic.js';
import type { PromptRow } from '../../schemas/tables.js';

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
  const v = row.variations[axis]!;
  return v.texts[v.keys.indexOf(v.key)] ?? (typeof v.value === 'string' ? v.value : v.key);
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
export function imageFileName(row: PromptRow, seed: number): string {
  const keys = filenameKeys(row).filter((k) => row.variations[k]);
  const tail = keys.length ? keys.map((k) => keySlug(row.variations[k]!.key)).join('_') : `seed-${seed}`;
  return safeName(`${row.session}_${pad(row.idx, 4)}_${tail}.png`);
}

export function manifestEntry(row: PromptRow, filename: string, seed: number): ManifestImage {
  const applied = Object.fromEntries(Object.keys(row.variations).map((axis) => [axis, appliedText(row, axis)]));
  return { filename, seed, prompt: row.prompt, negative_prompt: row.negative_prompt, applied_variations: applied };
}

function snapshotOf(row: PromptRow, checkpoint: string): SessionManifest['snapshot'] {
  const { version: _v, timestamp: _t, runtime_info: _r, filename_keys: _f, ...planned } = row.manifest as Record<string, unknown>;
  return {
    theme_name: row.theme,
    style: row.style,
    ...planned,
    version: '2.0',
    timestamp: new Date().toISOString(),
    runtime_info: { sd_model_checkpoint: checkpoint },
  };
}

async function readManifest(dir: string): Promise<SessionManifest | null> {
  try {
    return sessionManifest.parse(JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')));
  } catch {
    return null;
  }
}

/** The newest unfinished folder of this session, if a previous run left one. */
async function unfinishedFolder(root: string, suffix: string): Promise<{ dir: string; manifest: SessionManifest } | null> {
  const names = await readdir(root).catch(() => [] as string[]);
  const candidates = names.filter((n) => /^\d{8}_\d{6}-/.test(n) && n.slice(16) === suffix).sort().reverse();
  for (const name of candidates) {
    const manifest = await readManifest(join(root, name));
    if (manifest && manifest.status !== 'completed') return { dir: join(root, name), manifest };
  }
  return null;
}

/** Hard-link the stored object under its session name (copy across file systems). */
async function linkInto(source: string, target: string): Promise<void> {
  const [a, b] = await Promise.all([stat(source), stat(target).catch(() => null)]);
  if (b && a.ino === b.ino && a.dev === b.dev) return;
  await produceAtomic(target, (tmp) => link(source, tmp).catch(() => copyFile(source, tmp)));
}

class Session {
  private writing: Promise<void> = Promise.resolve();
  private dirty = false;
  constructor(
    readonly dir: string,
    readonly manifest: SessionManifest,
  ) {}

  async add(entry: ManifestImage, source: string): Promise<void> {
    await linkInto(source, join(this.dir, entry.filename));
    const at = this.manifest.images.findIndex((i) => i.filename === entry.filename);
    if (at >= 0) this.manifest.images[at] = entry;
    else {
      // In plan order (names carry the zero-padded index), whatever order images finish in.
      const before = this.manifest.images.findIndex((i) => i.filename > entry.filename);
      this.manifest.images.splice(before < 0 ? this.manifest.images.length : before, 0, entry);
    }
    this.manifest.status = 'ongoing';
    await this.save();
  }

  /** One write in flight; changes made meanwhile go out together in the next one. */
  save(): Promise<void> {
    this.dirty = true;
    this.writing = this.writing.then(async () => {
      if (!this.dirty) return;
      this.dirty = false;
      await writeFileAtomic(join(this.dir, 'manifest.json'), `${JSON.stringify(this.manifest, null, 2)}\n`);
    });
    return this.writing;
  }
}

/** The session folders of one generate run. */
export class SessionBook {
  private sessions = new Map<string, Promise<Session>>();
  constructor(
    readonly root: string,
    /** the checkpoint title the runtime_info records */
    readonly checkpoint: string,
  ) {}

  private open(row: PromptRow): Promise<Session> {
    const suffix = sessionSuffix(row.session, row.theme, row.style);
    let session = this.sessions.get(suffix);
    if (!session) {
      session = (async () => {
        const found = await unfinishedFolder(this.root, suffix);
        if (found) {
          // A killed run may have left a half-written manifest or image under a temporary name.
          await removeStaleTemps(found.dir);
          return new Session(found.dir, found.manifest);
        }
        const dir = join(this.root, `${folderTimestamp(new Date())}-${suffix}`);
        const s = new Session(dir, { snapshot: snapshotOf(row, this.checkpoint), images: [], status: 'ongoing' });
        await s.save();
        return s;
      })();
      this.sessions.set(suffix, session);
    }
    return session;
  }

  /** Link one image into its session and record it; returns where it went. */
  async add(row: PromptRow, source: string, seed: number): Promise<{ dir: string; filename: string }> {
    const session = await this.open(row);
    const filename = imageFileName(row, seed);
    await session.add(manifestEntry(row, filename, seed), source);
    return { dir: session.dir, filename };
  }

  /** The folder a row goes to, without adding anything (for images that failed). */
  async folderOf(row: PromptRow): Promise<string> {
    return (await this.open(row)).dir;
  }

  async close(status: 'completed' | 'aborted', failedSessions: Set<string> = new Set()): Promise<void> {
    for (const [suffix, pending] of this.sessions) {
      const session = await pending;
      session.manifest.status = failedSessions.has(suffix) ? 'aborted' : status;
      await session.save();
    }
  }
}
