// Content hashes of files, remembered by (size, mtime, inode) so that a no-op run never
// reads a file: ninja's and git's trick, kept in the state database.
import { statSync } from 'node:fs';
import pLimit from 'p-limit';
import { hashFile, hashSmallFileSync, smallFileLimit } from './hash.js';
import { appendRows, type State } from './state.js';
import { ObjectStats } from './object-stats.js';

interface Entry {
  size: number;
  mtimeMs: number;
  ino: number;
  hash: string;
}

/**
 * The cache as loaded: stats in flat number arrays, found through a path -> row map.
 * 20,000 entry objects (or strings built to compare) would be garbage the collector
 * then spends a tenth of a no-op run on.
 */
interface LoadedEntries {
  row: Map<string, number>;
  /** size, mtimeMs, ino of row i at 3i, 3i+1, 3i+2 */
  stats: Float64Array;
  hashes: string[];
}

function parseDump(dump: string | null | undefined): LoadedEntries {
  const lines = dump ? dump.split('\n') : [];
  const loaded: LoadedEntries = { row: new Map(), stats: new Float64Array(lines.length * 3), hashes: new Array<string>(lines.length) };
  lines.forEach((line, i) => {
    // path, size, mtime_ms, ino, hash: the path may hold tabs, the other four never do.
    const t4 = line.lastIndexOf('\t');
    const t3 = line.lastIndexOf('\t', t4 - 1);
    const t2 = line.lastIndexOf('\t', t3 - 1);
    const t1 = line.lastIndexOf('\t', t2 - 1);
    loaded.row.set(line.slice(0, t1), i);
    loaded.stats[3 * i] = Number(line.slice(t1 + 1, t2));
    loaded.stats[3 * i + 1] = Number(line.slice(t2 + 1, t3));
    loaded.stats[3 * i + 2] = Number(line.slice(t3 + 1, t4));
    loaded.hashes[i] = line.slice(t4 + 1);
  });
  return loaded;
}

export class StatCache {
  /** hashed since the last flush */
  private dirty = new Map<string, Entry>();
  /** flushed since the cache was loaded */
  private readonly flushed = new Map<string, Entry>();
  private readonly readLimit = pLimit(16);

  private constructor(
    private readonly state: State,
    private readonly loaded: Promise<LoadedEntries>,
    /** the store's objects, whose names are their hashes (object-stats.ts) */
    readonly objects: ObjectStats,
  ) {}

  /** The cache is read in the background: the first hashFiles stats its files meanwhile. */
  static open(state: State, objectsRoot: string): StatCache {
    // One string instead of 5 x N values: converting DuckDB values one by one costs more than splitting.
    const dump = state.query<{ dump: string | null }>(
      `SELECT string_agg(concat_ws(chr(9), path, size, mtime_ms, ino, hash), chr(10)) AS dump FROM stat_cache`,
    );
    const loaded = dump.then((rows) => parseDump(rows[0]?.dump));
    // Nobody may be waiting yet when it fails: the next hashFiles reports it.
    loaded.catch(() => undefined);
    return new StatCache(state, loaded, new ObjectStats(state, objectsRoot));
  }

  private cachedHash(loaded: LoadedEntries, path: string, stats: Float64Array, i: number): string | undefined {
    const fresh = this.dirty.get(path) ?? this.flushed.get(path);
    if (fresh) return fresh.size === stats[3 * i] && fresh.mtimeMs === stats[3 * i + 1] && fresh.ino === stats[3 * i + 2] ? fresh.hash : undefined;
    const row = loaded.row.get(path);
    if (row === undefined) return undefined;
    const same = loaded.stats[3 * row] === stats[3 * i] && loaded.stats[3 * row + 1] === stats[3 * i + 1] && loaded.stats[3 * row + 2] === stats[3 * i + 2];
    return same ? loaded.hashes[row] : undefined;
  }

  /** Hash of each file (absolute paths), in the same order; undefined for a missing file. */
  async hashFiles(paths: string[]): Promise<(string | undefined)[]> {
    // Synchronous stat in one loop: for thousands of cached files it is several times faster than the thread pool.
    // Plain numbers, not bigint: mtimeMs keeps sub-microsecond digits and is 20% cheaper to get.
    const stats = new Float64Array(paths.length * 3);
    const isFile = paths.map((path, i) => {
      const s = statSync(path, { throwIfNoEntry: false });
      if (!s?.isFile()) return false;
      stats[3 * i] = s.size;
      stats[3 * i + 1] = s.mtimeMs;
      stats[3 * i + 2] = s.ino;
      return true;
    });
    const loaded = await this.loaded;
    const seen = (i: number) => ({ size: stats[3 * i]!, mtimeMs: stats[3 * i + 1]!, ino: stats[3 * i + 2]! });
    const result = new Array<string | undefined>(paths.length);
    const misses: number[] = [];
    let yielded = performance.now();
    for (let i = 0; i < paths.length; i++) {
      const path = paths[i]!;
      const known = isFile[i] ? this.cachedHash(loaded, path, stats, i) : undefined;
      if (!isFile[i] || known !== undefined) result[i] = known;
      else if (stats[3 * i]! < smallFileLimit) {
        // Small misses are hashed right here (bigger ones are streamed below), with a pause
        // now and then so that Ctrl-C and progress still get through 20 GB of new images.
        result[i] = this.remember(path, { ...seen(i), hash: hashSmallFileSync(path, stats[3 * i]!) });
        if (performance.now() - yielded > 100) {
          await new Promise((resolve) => setImmediate(resolve));
          yielded = performance.now();
        }
      } else misses.push(i);
    }
    const hashed = await Promise.all(misses.map((i) => this.readLimit(() => hashFile(paths[i]!))));
    misses.forEach((i, k) => (result[i] = this.remember(paths[i]!, { ...seen(i), hash: hashed[k]! })));
    return result;
  }

  private remember(path: string, entry: Entry): string {
    this.dirty.set(path, entry);
    return entry.hash;
  }

  /** Write what changed since load; cheap when nothing did. A state opened to read keeps it in memory. */
  async flush(): Promise<void> {
    await this.objects.flush();
    if (this.dirty.size === 0 || !this.state.writable) return;
    const changed = [...this.dirty];
    this.dirty = new Map();
    const loaded = await this.loaded;
    // Files seen for the first time, all of them on a first run, need no DELETE.
    const replaced = changed.filter(([path]) => loaded.row.has(path) || this.flushed.has(path));
    await this.state.transaction(async (c) => {
      if (replaced.length > 0) {
        await c.run('CREATE OR REPLACE TEMP TABLE stat_replaced (path VARCHAR)');
        await appendRows(c, 'stat_replaced', replaced.map(([path]) => [path]));
        await c.run('DELETE FROM stat_cache WHERE path IN (SELECT path FROM stat_replaced)');
        await c.run('DROP TABLE stat_replaced');
      }
      await appendRows(c, 'stat_cache', changed.map(([path, e]) => [path, e.size, String(e.mtimeMs), e.ino, e.hash]));
    });
    for (const [path, entry] of changed) this.flushed.set(path, entry);
  }
}
