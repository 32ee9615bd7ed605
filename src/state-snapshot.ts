// The state's records (runs, stage_runs, loop_rounds, promoted_loras, pruned and whatever
// table a command keeps there) copied as one Parquet file each into data/.sdloop/state/
// whenever a stage commits or a command that wrote the state ends. DuckDB admits one
// writer per file and shuts every reader out while it writes, so readers (`pipeline sql`,
// `report`, `serve`) query these copies and never the live database. Each file is
// replaced by a rename, so a reader sees the old copy or the new one, never half of one.
import { readdirSync, renameSync, rmSync, type Dirent } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { tempPathFor } from './atomic.js';
import { sqlString } from './tables.js';
import type { State } from './state.js';

/** Caches and the item memo: internal, large, and rewritten all the time. */
const internalTables = new Set(['meta', 'memo', 'stat_cache', 'glob_cache', 'stage_deps']);

export const snapshotDir = (dataDir: string) => join(dataDir, '.sdloop', 'state');

/** The tables a snapshot holds: name -> Parquet path. */
export function snapshotTables(dataDir: string): [name: string, path: string][] {
  const dir = snapshotDir(dataDir);
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const names = entries.flatMap((e) => (e.isFile() && /^[a-z_][a-z0-9_]*\.parquet$/.test(e.name) ? [e.name] : []));
  return names.sort().map((name) => [name.slice(0, -'.parquet'.length), join(dir, name)]);
}

/** Copy every record table of `state` into the snapshot, and drop copies of tables that are gone. */
export async function exportSnapshot(state: State, dataDir: string): Promise<void> {
  const dir = snapshotDir(dataDir);
  await mkdir(dir, { recursive: true });
  const tables = (await state.query<{ name: string }>(
    "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'main' AND table_type = 'BASE TABLE' AND table_catalog = current_database()",
  )).map((t) => t.name).filter((name) => !internalTables.has(name) && /^[a-z_][a-z0-9_]*$/.test(name));
  for (const name of tables) {
    const path = join(dir, `${name}.parquet`);
    const tmp = tempPathFor(path);
    try {
      await state.run(`COPY (SELECT * FROM "${name}") TO ${sqlString(tmp)} (FORMAT parquet)`);
      renameSync(tmp, path);
    } finally {
      rmSync(tmp, { force: true });
    }
  }
  for (const [name, path] of snapshotTables(dataDir)) if (!tables.includes(name)) rmSync(path, { force: true });
}

/** Exports in order, at most one waiting: a request made while one runs is served by the next. */
export class SnapshotWriter {
  private current: Promise<void> = Promise.resolve();
  private pending: Promise<void> | undefined;

  constructor(
    private readonly state: State,
    private readonly dataDir: string,
    private readonly warn: (message: string) => void,
  ) {}

  request(): Promise<void> {
    this.pending ??= this.current.then(() => {
      this.pending = undefined;
      return exportSnapshot(this.state, this.dataDir).catch((error: Error) => this.warn(`could not copy the state for readers: ${error.message}`));
    });
    this.current = this.pending;
    return this.pending;
  }

  /** Resolves once every export requested so far is written. */
  settled(): Promise<void> {
    return this.current;
  }
}
