// Where ingest looks: `ingest.paths` as written (folders or globs, `~` for home), made
// absolute, and the session folders under them with each file's stat. The stats are the
// folder's identity: a file whose content changes gets a new size or mtime (the engine's
// stat cache trusts the same), and reading the bytes is left to the import itself, which
// hashes each file while it parses it.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { InputError } from '../../src/errors.js';
import { hashBytes } from '../../src/hash.js';
import { glob, isGlobPattern } from '../../src/glob.js';

/** [file name, size, mtime in ms, inode] */
export type FileStat = [name: string, size: number, mtimeMs: number, ino: number];

export interface ScannedFolder {
  /** the folder as the tables store it (storedFolder) */
  stored: string;
  /** the PNG and JSON files directly in the folder, by name */
  files: FileStat[];
}

/** A folder `ingest.paths` named, absolute, and whether the user wrote it relative to the project. */
export interface Root {
  dir: string;
  relative: boolean;
}

const expandHome = (path: string) => (path === '~' || path.startsWith('~/') ? join(homedir(), path.slice(1)) : path);

/** Each path or glob as absolute folders; one that names nothing is bad input, named. */
export async function expandRoots(paths: string[], projectDir: string): Promise<Root[]> {
  const roots = new Map<string, Root>();
  for (const written of paths) {
    const path = expandHome(written);
    const absolute = isAbsolute(path) ? path : resolve(projectDir, path);
    const found = isGlobPattern(absolute)
      ? (await glob(absolute, { onlyDirectories: true, absolute: true })).sort()
      : existsSync(absolute) && statSync(absolute).isDirectory() ? [absolute] : [];
    if (found.length === 0) throw new InputError(`ingest path ${JSON.stringify(written)} names no folder (looked for ${absolute})`, { field: 'ingest.paths' });
    for (const dir of found) if (!roots.has(dir)) roots.set(dir, { dir, relative: !isAbsolute(path) });
  }
  return [...roots.values()];
}

/**
 * A folder as the tables store it, so that they survive a moved project: relative to the
 * project when inside it, and when `ingest.paths` named its root relative to the project
 * (the two move together); absolute otherwise, as the user's own folders stay where they
 * are. Readers resolve it against the project folder.
 */
export function storedFolder(dir: string, root: Root, projectDir: string): string {
  const rel = relative(projectDir, dir);
  const inside = !rel.startsWith('..') && !isAbsolute(rel);
  if (inside) return rel || '.';
  return root.relative ? rel : dir;
}

const wanted = /\.(png|json)$/i;
const png = /\.png$/i;

/**
 * Every folder under the roots that holds a PNG, in path order, with its PNG and JSON
 * files stat'ed; sdgen's `dryrun/` payload folders hold none. Names starting with a dot
 * are skipped, links followed, each real folder walked once.
 */
export function scanFolders(roots: Root[], projectDir: string): ScannedFolder[] {
  const folders: ScannedFolder[] = [];
  const walked = new Set<string>();
  // Each folder's stored form is its parent's plus its name: path.relative per folder costs more than the stats.
  const pending = roots.map((root) => ({ dir: root.dir, stored: storedFolder(root.dir, root, projectDir) })).reverse();
  while (pending.length > 0) {
    const { dir, stored } = pending.pop()!;
    const self = statSync(dir, { throwIfNoEntry: false });
    if (!self?.isDirectory() || walked.has(`${self.dev}:${self.ino}`)) continue;
    walked.add(`${self.dev}:${self.ino}`);
    const files: FileStat[] = [];
    const subdirs: string[] = [];
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const name = entry.name;
      if (name.startsWith('.')) continue;
      if (entry.isDirectory()) subdirs.push(name);
      else if (wanted.test(name) && (entry.isFile() || entry.isSymbolicLink())) {
        const s = statSync(`${dir}/${name}`, { throwIfNoEntry: false });
        if (s?.isFile()) files.push([name, s.size, s.mtimeMs, s.ino]);
        else if (s?.isDirectory()) subdirs.push(name);
      } else if (entry.isSymbolicLink()) subdirs.push(name);
    }
    if (files.some(([name]) => png.test(name))) folders.push({ stored, files: files.sort((a, b) => (a[0] < b[0] ? -1 : 1)) });
    for (const name of subdirs.sort().reverse()) pending.push({ dir: `${dir}/${name}`, stored: stored === '.' ? name : `${stored}/${name}` });
  }
  return folders.sort((a, b) => (a.stored < b.stored ? -1 : 1));
}

/** What `pipeline status` shows when the folders changed: counts, and a digest of every name and stat. */
export function describeScan(folders: ScannedFolder[]): string {
  const count = folders.reduce((n, f) => n + f.files.length, 0);
  // The numbers hashed as their bytes: 60,000 of them turned into text would cost more than the stats.
  const numbers = new Float64Array(count * 3);
  let names = '';
  let i = 0;
  for (const f of folders) {
    names += `${f.stored}\n`;
    for (const [name, size, mtimeMs, ino] of f.files) {
      names += `\t${name}\n`;
      numbers[i++] = size;
      numbers[i++] = mtimeMs;
      numbers[i++] = ino;
    }
  }
  const digest = hashBytes(hashBytes(names) + hashBytes(new Uint8Array(numbers.buffer)));
  return `${folders.length} folders, ${count} files (stats ${digest.slice(0, 12)})`;
}
