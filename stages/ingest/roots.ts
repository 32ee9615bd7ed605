// Where ingest looks: `ingest.paths` as written (folders or globs, `~` for home), made
// absolute, and the session folders under them with their files' content hashes.
import { existsSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { InputError } from '../../src/errors.js';
import { glob, isGlobPattern, walkFolder } from '../../src/glob.js';
import type { FolderItem } from './folder.js';

const expandHome = (path: string) => (path === '~' || path.startsWith('~/') ? join(homedir(), path.slice(1)) : path);

/** Each path or glob as absolute folders; one that names nothing is bad input, named. */
export async function expandRoots(paths: string[], projectDir: string): Promise<string[]> {
  const roots: string[] = [];
  for (const written of paths) {
    const path = expandHome(written);
    const absolute = isAbsolute(path) ? path : resolve(projectDir, path);
    const found = isGlobPattern(absolute)
      ? (await glob(absolute, { onlyDirectories: true, absolute: true })).sort()
      : existsSync(absolute) && statSync(absolute).isDirectory() ? [absolute] : [];
    if (found.length === 0) throw new InputError(`ingest path ${JSON.stringify(written)} names no folder (looked for ${absolute})`, { field: 'ingest.paths' });
    roots.push(...found);
  }
  return [...new Set(roots)];
}

const wanted = (name: string) => /\.(png|json)$/i.test(name);

/** Every folder under the roots that holds a PNG, with its PNG and JSON files; sdgen's `dryrun/` payload folders hold none. */
export function sessionFolders(roots: string[]): Map<string, string[]> {
  const folders = new Map<string, string[]>();
  for (const root of roots) {
    for (const rel of walkFolder(root).files) {
      const path = join(root, rel);
      const name = path.slice(dirname(path).length + 1);
      if (!wanted(name)) continue;
      const list = folders.get(dirname(path));
      if (list) list.push(name);
      else folders.set(dirname(path), [name]);
    }
  }
  for (const [dir, names] of folders) if (!names.some((n) => /\.png$/i.test(n))) folders.delete(dir);
  return folders;
}

/** Folder items in path order, each file with its content hash (the engine's stat cache answers a no-op from stats). */
export async function folderItems(folders: Map<string, string[]>, fileHash: (path: string) => Promise<string>): Promise<FolderItem[]> {
  const items: FolderItem[] = [];
  for (const dir of [...folders.keys()].sort()) {
    const names = folders.get(dir)!.sort();
    const files: [string, string][] = [];
    for (const name of names) files.push([name, await fileHash(join(dir, name))]);
    items.push({ session_dir: dir, files });
  }
  return items;
}
