// The stored objects' stats at which their bytes last matched their names. An object is
// named by its content hash, so nothing but the stat needs keeping: status stats every
// object its stages' memo hits name and reads only those whose size, mtime or inode moved.
// Kept apart from the stat cache, which every command loads whole: 40,000 images' rows
// there cost every status a tenth of a second before it looked at anything.
// Paths are relative to the objects folder (ab/<hash>.png), so a moved project keeps them.
import { readFileSync, statSync, type Stats } from 'node:fs';
import { basename, relative } from 'node:path';
import { hashBytes, hashFile, hashSmallFileSync, smallFileLimit, wholeFileLimit } from './hash.js';
import { appendRows, type State } from './state.js';
import { keepCheckList, movedLines, takePreloaded } from './stat-preload.js';

/** size, mtimeMs, ino: what a stat must still say for the bytes to be as last checked. */
type ObjectStat = [number, number, number];

const statOf = (s: Stats): ObjectStat => [s.size, s.mtimeMs, s.ino];
const sameStat = (a: ObjectStat, s: Stats) => a[0] === s.size && a[1] === s.mtimeMs && a[2] === s.ino;

/** The refs of a check joined to their recorded stats (`$cut`: where a ref's path inside the objects folder starts). */
const refsWithStats = (refsSql: string) => `FROM (${refsSql}) r LEFT JOIN object_stats s ON s.path = substr(r.path, $cut)`;

/**
 * A list's lines summed up: their count and the sum of their hashes. A DuckDB aggregate
 * costs a fraction of building the list's text, and any ref or stat that changed changes it.
 */
const listSummary = "count(*)::VARCHAR || ':' || coalesce(sum(hash(r.path, s.size, s.mtime_ms, s.ino))::VARCHAR, '0') AS summary";

/** The content hash an object is named by: ab/<hash>.png -> <hash>. */
const nameHash = (path: string) => basename(path).split('.')[0]!;

/** Whether the bytes of the object at `path` (stat'ed as `s`) hash to its name. */
async function bytesMatchName(path: string, s: Stats): Promise<boolean> {
  const hash = s.size < smallFileLimit ? hashSmallFileSync(path, s.size) : s.size <= wholeFileLimit ? await hashFile(path) : hashBytes(readFileSync(path));
  return hash === nameHash(path);
}

/** What a check found among the objects it was given (project-relative paths, as given). */
export interface ObjectCheck {
  /** gone, or damaged */
  bad: Set<string>;
  /** present, but their bytes no longer hash to their names */
  damaged: string[];
}

export class ObjectStats {
  /** checked since the last flush, by path relative to the root */
  private dirty = new Map<string, ObjectStat>();

  constructor(
    private readonly state: State,
    /** the objects folder, absolute */
    readonly root: string,
  ) {}

  private keyOf(path: string): string {
    return relative(this.root, path);
  }

  /** An object just written with the bytes its name says: the next check reads nothing. */
  written(path: string): void {
    const s = statSync(path, { throwIfNoEntry: false });
    if (s?.isFile()) this.dirty.set(this.keyOf(path), statOf(s));
  }

  /** Whether one object is there with the bytes its name says: by its stat when it has not moved since last checked. */
  async intact(path: string): Promise<boolean> {
    const s = statSync(path, { throwIfNoEntry: false });
    if (!s?.isFile()) return false;
    const key = this.keyOf(path);
    const rows = this.dirty.has(key) ? [] : await this.state.query<{ size: number; mtime_ms: string; ino: number }>('SELECT size, mtime_ms, ino FROM object_stats WHERE path = $key', { key });
    const known = this.dirty.get(key) ?? (rows[0] ? ([rows[0].size, Number(rows[0].mtime_ms), rows[0].ino] as ObjectStat) : undefined);
    if (known && sameStat(known, s)) return true;
    if (!(await bytesMatchName(path, s))) return false;
    this.dirty.set(key, statOf(s));
    return true;
  }

  /**
   * Every object `refsSql` names (one `path` column of project-relative paths, repeats
   * allowed: a DISTINCT over 40,000 would cost more than the odd second stat), checked
   * against its recorded stat: one stat each while nothing moved (taken while the CLI
   * loaded when the last check of `list` was of the same objects: stat-preload.ts), the
   * bytes read of those that did. Objects over the whole-file hash limit are only checked
   * for presence there: their names are of their whole bytes, which a check of thousands
   * would not read.
   */
  async check(projectDir: string, list: string, refsSql: string, params: Record<string, unknown>): Promise<ObjectCheck> {
    const prefix = `${relative(projectDir, this.root)}/`;
    const base = `${projectDir}/`;
    const query = { ...params, cut: prefix.length + 1 };
    const moved = (await this.preloadedMoves(list, base, refsSql, query)) ?? (await this.movesNow(projectDir, list, refsSql, query));
    const bad = new Set<string>();
    const damaged: string[] = [];
    for (const line of moved) {
      const rel = line.slice(0, line.indexOf('\t'));
      const s = statSync(base + rel, { throwIfNoEntry: false });
      if (!s?.isFile()) bad.add(rel);
      else if (s.size > wholeFileLimit) continue;
      else if (await bytesMatchName(base + rel, s)) this.dirty.set(rel.slice(prefix.length), statOf(s));
      else {
        bad.add(rel);
        damaged.push(rel);
      }
    }
    return { bad, damaged: [...new Set(damaged)].sort() };
  }

  /** The worker's moved lines, when the list it checked sums up as this check's would. */
  private async preloadedMoves(list: string, base: string, refsSql: string, query: Record<string, unknown>): Promise<string[] | undefined> {
    const early = await takePreloaded(list, base);
    if (!early) return undefined;
    const rows = await this.state.query<{ summary: string }>(`SELECT ${listSummary} ${refsWithStats(refsSql)}`, query);
    return rows[0]?.summary === early.summary ? early.moved : undefined;
  }

  /** The refs with their recorded stats, stat'ed here; the list is left for the next command. */
  private async movesNow(projectDir: string, list: string, refsSql: string, query: Record<string, unknown>): Promise<string[]> {
    // One string instead of a row object per object: 40,000 lines cost little beside their stats.
    const rows = await this.state.query<{ summary: string; dump: string | null }>(
      `SELECT ${listSummary}, string_agg(concat_ws(chr(9), r.path, coalesce(s.size, -1), coalesce(s.mtime_ms, '-1'), coalesce(s.ino, -1)), chr(10)) AS dump
       ${refsWithStats(refsSql)}`,
      query,
    );
    const dump = rows[0]?.dump ?? '';
    if (this.state.writable) await keepCheckList(projectDir, list, rows[0]!.summary, dump);
    return movedLines(dump, `${projectDir}/`);
  }

  /** Write what was checked since the last flush. A state opened to read keeps it in memory. */
  async flush(): Promise<void> {
    if (this.dirty.size === 0 || !this.state.writable) return;
    const changed = [...this.dirty];
    this.dirty = new Map();
    await this.state.transaction(async (c) => {
      await c.run('CREATE OR REPLACE TEMP TABLE object_checked (path VARCHAR, size BIGINT, mtime_ms VARCHAR, ino BIGINT)');
      await appendRows(c, 'object_checked', changed.map(([path, [size, mtimeMs, ino]]) => [path, size, String(mtimeMs), ino]));
      await c.run('DELETE FROM object_stats WHERE path IN (SELECT path FROM object_checked)');
      await c.run('INSERT INTO object_stats SELECT * FROM object_checked');
      await c.run('DROP TABLE object_checked');
    });
  }
}
