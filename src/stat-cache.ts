// Content hashes of files, remembered by (size, mtime, inode) so that a no-op run never
// reads a file: ninja's and git's trick, kept in the state database.
import { statSync } from 'node:fs';
import pLimit from 'p-limit';
import { hashFile, hashSmallFileSync, smallFileLimit } from './hash.js';
import { appendRows, type State } from './state.js';

interface Entry {
  size: number;
  mtimeMs: number;
  ino: number;
  hash: string;
}

/** How an entry's stat reads in the cache: `size<TAB>mtimeMs<TAB>ino<TAB>`, followed by its hash. */
const statKey = (size: number, mtimeMs: number, ino: number) => `${size}\t${mtimeMs}\t${ino}\t`;

export class StatCache {
  private dirty = new Map<string, Entry>();
  private readonly readLimit = pLimit(16);

  private constructor(
    private readonly state: State,
    /** path -> `size<TAB>mtimeMs<TAB>ino<TAB>hash`, kept as text: 20,000 objects cost more than a prefix compare */
    private readonly entries: Map<string, string>,
  ) {}

  static async load(state: State): Promise<StatCache> {
    // One string instead of 5 x N values: converting DuckDB values one by one costs more than splitting.
    const rows = await state.query<{ dump: string | null }>(
      `SELECT string_agg(concat_ws(chr(9), path, size, mtime_ms, ino, hash), chr(10)) AS dump FROM stat_cache`,
    );
    const entries = new Map<string, string>();
    for (const line of rows[0]?.dump?.split('\n') ?? []) {
      const tab = line.indexOf('\t');
      entries.set(line.slice(0, tab), line.slice(tab + 1));
    }
    return new StatCache(state, entries);
  }

  private cachedHash(path: string, size: number, mtimeMs: number, ino: number): string | undefined {
    const fresh = this.dirty.get(path);
    if (fresh) return fresh.size === size && fresh.mtimeMs === mtimeMs && fresh.ino === ino ? fresh.hash : undefined;
    const entry = this.entries.get(path);
    const key = entry === undefined ? '' : statKey(size, mtimeMs, ino);
    return entry?.startsWith(key) ? entry.slice(key.length) : undefined;
  }

  /** Hash of each file (absolute paths); missing files map to undefined. */
  async hashFiles(paths: string[]): Promise<Map<string, string | undefined>> {
    const result = new Map<string, string | undefined>();
    const misses: [string, Omit<Entry, 'hash'>][] = [];
    // Synchronous stat in one loop: for thousands of cached files it is several times faster than the thread pool.
    for (const path of paths) {
      // Plain numbers, not bigint: mtimeMs keeps sub-microsecond digits and is 20% cheaper to get.
      const s = statSync(path, { throwIfNoEntry: false });
      if (!s || !s.isFile()) {
        result.set(path, undefined);
        continue;
      }
      const known = this.cachedHash(path, s.size, s.mtimeMs, s.ino);
      const seen = { size: s.size, mtimeMs: s.mtimeMs, ino: s.ino };
      if (known !== undefined) result.set(path, known);
      // Small misses are hashed in the stat loop itself; bigger ones are streamed below.
      else if (s.size < smallFileLimit) this.remember(path, { ...seen, hash: hashSmallFileSync(path) }, result);
      else misses.push([path, seen]);
    }
    const hashed = await Promise.all(misses.map(([path]) => this.readLimit(() => hashFile(path))));
    misses.forEach(([path, seen], i) => this.remember(path, { ...seen, hash: hashed[i]! }, result));
    return result;
  }

  private remember(path: string, entry: Entry, result: Map<string, string | undefined>): void {
    this.dirty.set(path, entry);
    result.set(path, entry.hash);
  }

  /** Write what changed since load; cheap when nothing did. */
  async flush(): Promise<void> {
    if (this.dirty.size === 0) return;
    const changed = [...this.dirty];
    this.dirty = new Map();
    // Files seen for the first time, all of them on a first run, need no DELETE.
    const replaced = changed.filter(([path]) => this.entries.has(path));
    await this.state.transaction(async (c) => {
      if (replaced.length > 0) {
        await c.run('CREATE OR REPLACE TEMP TABLE stat_replaced (path VARCHAR)');
        await appendRows(c, 'stat_replaced', replaced.map(([path]) => [path]));
        await c.run('DELETE FROM stat_cache WHERE path IN (SELECT path FROM stat_replaced)');
        await c.run('DROP TABLE stat_replaced');
      }
      await appendRows(c, 'stat_cache', changed.map(([path, e]) => [path, e.size, String(e.mtimeMs), e.ino, e.hash]));
    });
    for (const [path, e] of changed) this.entries.set(path, statKey(e.size, e.mtimeMs, e.ino) + e.hash);
  }
}
