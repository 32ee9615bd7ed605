// Content hashes of files, remembered by (size, mtime, inode) so that a no-op run never
// reads a file: ninja's and git's trick, kept in the state database.
import { stat } from 'node:fs/promises';
import pLimit from 'p-limit';
import { hashFile } from './hash.js';
import { appendRows, type State } from './state.js';

interface Entry {
  size: number;
  mtimeNs: string;
  ino: number;
  hash: string;
}

export class StatCache {
  private dirty = new Map<string, Entry>();
  private readonly statLimit = pLimit(64);

  private constructor(
    private readonly state: State,
    private readonly entries: Map<string, Entry>,
  ) {}

  static async load(state: State): Promise<StatCache> {
    const rows = await state.query<{ path: string; size: string; mtime_ns: string; ino: string; hash: string }>(
      'SELECT path, size, mtime_ns, ino, hash FROM stat_cache',
    );
    const entries = new Map<string, Entry>();
    for (const r of rows) entries.set(r.path, { size: Number(r.size), mtimeNs: r.mtime_ns, ino: Number(r.ino), hash: r.hash });
    return new StatCache(state, entries);
  }

  /** Hash of each file (absolute paths); missing files map to undefined. */
  async hashFiles(paths: string[]): Promise<Map<string, string | undefined>> {
    const result = new Map<string, string | undefined>();
    await Promise.all(
      paths.map((path) =>
        this.statLimit(async () => {
          result.set(path, await this.hashOne(path));
        }),
      ),
    );
    return result;
  }

  private async hashOne(path: string): Promise<string | undefined> {
    const s = await stat(path, { bigint: true }).catch(() => undefined);
    if (!s || !s.isFile()) return undefined;
    const size = Number(s.size);
    const mtimeNs = s.mtimeNs.toString();
    const ino = Number(s.ino);
    const known = this.dirty.get(path) ?? this.entries.get(path);
    if (known && known.size === size && known.mtimeNs === mtimeNs && known.ino === ino) return known.hash;
    const hash = await hashFile(path);
    this.dirty.set(path, { size, mtimeNs, ino, hash });
    return hash;
  }

  /** Write what changed since load; cheap when nothing did. */
  async flush(): Promise<void> {
    if (this.dirty.size === 0) return;
    const changed = [...this.dirty];
    this.dirty = new Map();
    await this.state.transaction(async (c) => {
      await c.run('CREATE OR REPLACE TEMP TABLE stat_update (path VARCHAR, size BIGINT, mtime_ns VARCHAR, ino BIGINT, hash VARCHAR)');
      await appendRows(
        c,
        'stat_update',
        changed.map(([path, e]) => [path, e.size, e.mtimeNs, e.ino, e.hash]),
      );
      await c.run('DELETE FROM stat_cache WHERE path IN (SELECT path FROM stat_update)');
      await c.run('INSERT INTO stat_cache SELECT * FROM stat_update');
      await c.run('DROP TABLE stat_update');
    });
    for (const [path, entry] of changed) this.entries.set(path, entry);
  }
}
