// Expanding a dep glob over 20,000 files reads every directory entry. Adding, removing or
// renaming a file changes its directory's mtime, so when no directory under the glob's
// base changed, the last expansion still holds and only the directories are stat'ed.
import { statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { glob, globBases, isGlobPattern, walkFolder, type FolderListing } from './glob.js';
import type { State } from './state.js';

/** A folder's mtime as listings record it: 'missing' for one that is not there, so a glob over an absent folder stays cached too. */
function mtimeOf(path: string): string {
  return statSync(path, { bigint: true, throwIfNoEntry: false })?.mtimeNs.toString() ?? 'missing';
}

async function directoriesUnder(cwd: string, pattern: string): Promise<string[]> {
  const bases = globBases(pattern);
  const dirs: string[] = [];
  for (const base of bases) {
    dirs.push(base);
    for (const d of await glob('**', { cwd: join(cwd, base), onlyDirectories: true, dot: false })) dirs.push(join(base, d));
  }
  return dirs;
}

/** `in/**` is a plain folder: walked directly, its folders' mtimes taken on the way. */
function folderOf(pattern: string): string | undefined {
  const folder = /^(.+)\/\*\*$/.exec(pattern)?.[1];
  return folder !== undefined && !isGlobPattern(folder) ? folder : undefined;
}

async function listPattern(cwd: string, pattern: string): Promise<FolderListing> {
  const folder = folderOf(pattern);
  if (folder !== undefined) {
    const walked = walkFolder(join(cwd, folder), { within: folder.startsWith('../') || folder === '..' || isAbsolute(folder) ? undefined : cwd });
    return {
      dirs: walked.dirs.map(([d, mtime]) => [d ? `${folder}/${d}` : folder, mtime]),
      files: walked.files.map((f) => `${folder}/${f}`),
    };
  }
  const dirs = (await directoriesUnder(cwd, pattern)).map((d): [string, string] => [d, mtimeOf(join(cwd, d))]);
  const files = (await glob(pattern, { cwd, onlyFiles: true, dot: false })).sort();
  return { dirs, files };
}

export class GlobCache {
  private loaded?: Map<string, FolderListing>;
  private readonly updates = new Map<string, FolderListing>();

  constructor(private readonly state: State) {}

  private async entries(): Promise<Map<string, FolderListing>> {
    if (!this.loaded) {
      const rows = await this.state.query<{ pattern: string; entry: string }>('SELECT pattern, entry FROM glob_cache');
      this.loaded = new Map(rows.map((r) => [r.pattern, JSON.parse(r.entry) as FolderListing]));
    }
    return this.loaded;
  }

  /** Files matching `pattern` under `cwd`, sorted, relative to cwd. */
  async glob(cwd: string, pattern: string): Promise<string[]> {
    const key = `${cwd}\0${pattern}`;
    const cached = this.updates.get(key) ?? (await this.entries()).get(key);
    if (cached && cached.dirs.every(([dir, mtime]) => mtimeOf(join(cwd, dir)) === mtime)) return cached.files;
    const listing = await listPattern(cwd, pattern);
    this.updates.set(key, listing);
    return listing.files;
  }

  /** A state opened to read keeps the listings in memory. */
  async flush(): Promise<void> {
    if (this.updates.size === 0 || !this.state.writable) return;
    const updates = [...this.updates];
    this.updates.clear();
    await this.state.transaction(async (c) => {
      for (const [pattern, entry] of updates) {
        await c.run('DELETE FROM glob_cache WHERE pattern = $pattern', { pattern });
        await c.run('INSERT INTO glob_cache VALUES ($pattern, $entry)', { pattern, entry: JSON.stringify(entry) });
        this.loaded?.set(pattern, entry);
      }
    });
  }
}
