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
    private readonly entries: Promise<Map<string, string>>,
  ) {}

  /** The cache is read in the background: the first hashFiles stats its files meanwhile. */
  static open(state: State): StatCache {
    // One string instead of 5 x N values: converting DuckDB values one by one costs more than splitting.
    const dump = state.query<{ dump: string | null }>(
      `SELECT string_agg(concat_ws(chr(9), path, size, mtime_ms, ino, hash), chr(10)) AS dump FROM stat_cache`,
    );
    const entries = dump.then((rows) => {
      const map = new Map<string, string>();
      for (const line of rows[0]?.dump?.split('\n') ?? []) {
        const tab = line.indexOf('\t');
        map.set(line.slice(0, tab), line.slice(tab + 1));
      }
      return map;
    });
    // Nobody may be waiting yet when it fails: the next hashFiles reports it.
    entries.catch(() => undefined);
    return new StatCache(state, entries);
  }

  private cachedHash(entries: Map<string, string>, path: string, size: number, mtimeMs: number, ino: number): string | undefined {
    const fresh = this.dirty.get(path);
    if (fresh) return fresh.size === size && fresh.mtimeMs === mtimeMs && fresh.ino === ino ? fresh.hash : undefined;
    const entry = entries.get(path);
    const key = entry === undefined ? '' : statKey(size, mtimeMs, ino);
    return entry?.startsWith(key) ? entry.slice(key.length) : undefined;
  }

  /** Hash of each file (absolute paths), in the same order; undefined for a missing file. */
  async hashFiles(paths: string[]): Promise<(string | undefined)[]> {
    // Synchronous stat in one loop: for thousands of cached files it is several times faster than the thread pool.
    // Plain numbers, not bigint: mtimeMs keeps sub-microsecond digits and is 20% cheaper to get.
    const seen = paths.map((path) => {
      const s = statSync(path, { throwIfNoEntry: false });
      return s?.isFile() ? { size: s.size, mtimeMs: s.mtimeMs, ino: s.ino } : undefined;
    });
    const entries = await this.entries;
    const result = new Array<string | undefined>(paths.length);
    const misses: number[] = [];
    let yielded = performance.now();
    for (let i = 0; i < paths.length; i++) {
      const s = seen[i];
      const path = paths[i]!;
      const known = s && this.cachedHash(entries, path, s.size, s.mtimeMs, s.ino);
      if (!s || known !== undefined) result[i] = known;
      else if (s.size < smallFileLimit) {
        // Small misses are hashed right here (bigger ones are streamed below), with a pause
        // now and then so that Ctrl-C and progress still get through 20 GB of new images.
        result[i] = this.remember(path, { ...s, hash: hashSmallFileSync(path, s.size) });
        if (performance.now() - yielded > 100) {
          await new Promise((resolve) => setImmediate(resolve));
          yielded = performance.now();
        }
      } else misses.push(i);
    }
    const hashed = await Promise.all(misses.map((i) => this.readLimit(() => hashFile(paths[i]!))));
    misses.forEach((i, k) => (result[i] = this.remember(paths[i]!, { ...seen[i]!, hash: hashed[k]! })));
    return result;
  }

  private remember(path: string, entry: Entry): string {
    this.dirty.set(path, entry);
    return entry.hash;
  }

  /** Write what changed since load; cheap when nothing did. */
  async flush(): Promise<void> {
    if (this.dirty.size === 0) return;
    const changed = [...this.dirty];
    this.dirty = new Map();
    const entries = await this.entries;
    // Files seen for the first time, all of them on a first run, need no DELETE.
    const replaced = changed.filter(([path]) => entries.has(path));
    await this.state.transaction(async (c) => {
      if (replaced.length > 0) {
        await c.run('CREATE OR REPLACE TEMP TABLE stat_replaced (path VARCHAR)');
        await appendRows(c, 'stat_replaced', replaced.map(([path]) => [path]));
        await c.run('DELETE FROM stat_cache WHERE path IN (SELECT path FROM stat_replaced)');
        await c.run('DROP TABLE stat_replaced');
      }
      await appendRows(c, 'stat_cache', changed.map(([path, e]) => [path, e.size, String(e.mtimeMs), e.ino, e.hash]));
    });
    for (const [path, e] of changed) entries.set(path, statKey(e.size, e.mtimeMs, e.ino) + e.hash);
  }
}
