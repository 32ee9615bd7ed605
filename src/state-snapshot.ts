// The state's records (runs, stage_runs, table_changes, loop_rounds, promoted_loras, pruned and whatever
// table a command keeps there) copied as Parquet into data/.sdloop/state/ whenever a stage
// commits or a command that wrote the state ends. DuckDB admits one writer per file and
// shuts every reader out while it writes, so readers (`pipeline sql`, `report`, `serve`)
// query these copies and never the live database. Each file is replaced by a rename, so a
// reader sees the old copy or the new one, never half of one. runs and stage_runs grow
// with every run: they are copied by the month their runs started in, so a stage commit
// rewrites this month's rows, not the whole history.
import { readdirSync, renameSync, rmSync, type Dirent } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { tempPathFor } from './atomic.js';
import { sqlString } from './tables.js';
import type { State } from './state.js';

/** Caches, the item memo and the lock's record: internal, large or rewritten all the time. */
const internalTables = new Set(['meta', 'memo', 'stat_cache', 'object_stats', 'glob_cache', 'stage_deps', 'lock_entries']);
/** Tables every run appends to, keyed by run_id, whose first characters are the run's start time. */
const runTables = ['runs', 'stage_runs', 'table_changes'];
const monthOfRun = "coalesce(regexp_extract(run_id, '^[0-9]{4}-[0-9]{2}'), '')";

export const snapshotDir = (dataDir: string) => join(dataDir, '.sdloop', 'state');

/**
 * The lock's record (lock_entries) for readers, kept apart from the tables user SQL sees:
 * where pipeline.lock and its copy are both gone, readers take the lock from it, as
 * status takes it from the state.
 */
export const snapshotLockEntries = (dataDir: string) => join(snapshotDir(dataDir), 'internal', 'lock_entries.parquet');

/** The month a run id (an ISO time first) falls in, as its copy is named. */
export const runMonth = (startedAt: string) => /^\d{4}-\d{2}/.exec(startedAt)?.[0] ?? '';

const tableName = /^[a-z_][a-z0-9_]*$/;
const monthFile = /^(\d{4}-\d{2})?\.parquet$/;

function entries(dir: string): Dirent[] {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}

/** The tables a snapshot holds: name -> Parquet path, or a glob over a run table's months. */
export function snapshotTables(dataDir: string): [name: string, path: string][] {
  const dir = snapshotDir(dataDir);
  const tables: [string, string][] = [];
  for (const entry of entries(dir)) {
    const name = entry.name.replace(/\.parquet$/, '');
    if (entry.isFile() && entry.name.endsWith('.parquet') && tableName.test(name)) tables.push([name, join(dir, entry.name)]);
    if (entry.isDirectory() && runTables.includes(entry.name) && entries(join(dir, entry.name)).some((e) => monthFile.test(e.name))) {
      tables.push([entry.name, join(dir, entry.name, '*.parquet')]);
    }
  }
  return tables.sort(([a], [b]) => a.localeCompare(b));
}

async function copyAtomic(state: State, query: string, path: string): Promise<void> {
  const tmp = tempPathFor(path);
  try {
    await state.run(`COPY (${query}) TO ${sqlString(tmp)} (FORMAT parquet)`);
    renameSync(tmp, path);
  } finally {
    rmSync(tmp, { force: true });
  }
}

async function recordTables(state: State): Promise<string[]> {
  const rows = await state.query<{ name: string }>(
    "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'main' AND table_type = 'BASE TABLE' AND table_catalog = current_database()",
  );
  return rows.map((t) => t.name).filter((name) => !internalTables.has(name) && tableName.test(name));
}

/** This run's rows of the run tables (runs, stage_runs, table_changes): the months given (the run's), rewritten. */
export async function exportRunMonths(state: State, dataDir: string, months: string[]): Promise<void> {
  for (const table of runTables) {
    const dir = join(snapshotDir(dataDir), table);
    await mkdir(dir, { recursive: true });
    for (const month of new Set(months)) {
      // A prefix test is what the zone map and the string compare do fastest; the regex only for ids without a date.
      const where = month ? `starts_with(run_id, ${sqlString(month)})` : `${monthOfRun} = ''`;
      await copyAtomic(state, `SELECT * FROM ${table} WHERE ${where}`, join(dir, `${month}.parquet`));
    }
  }
}

/** Every record table but the run tables, whole; copies of tables that are gone are dropped. */
export async function exportRecordTables(state: State, dataDir: string): Promise<void> {
  const dir = snapshotDir(dataDir);
  await mkdir(dir, { recursive: true });
  const tables = (await recordTables(state)).filter((name) => !runTables.includes(name));
  for (const name of tables) await copyAtomic(state, `SELECT * FROM "${name}"`, join(dir, `${name}.parquet`));
  if (await state.tableExists('lock_entries')) {
    await mkdir(dirname(snapshotLockEntries(dataDir)), { recursive: true });
    await copyAtomic(state, 'SELECT stage, entry FROM lock_entries', snapshotLockEntries(dataDir));
  }
  for (const entry of entries(dir)) {
    if (entry.isFile() && entry.name.endsWith('.parquet') && !tables.includes(entry.name.replace(/\.parquet$/, ''))) rmSync(join(dir, entry.name), { force: true });
  }
}

/** Everything, every month of the run tables too: after SQL that may have changed any record. */
export async function exportSnapshot(state: State, dataDir: string): Promise<void> {
  await exportRecordTables(state, dataDir);
  const months = (await state.query<{ month: string }>(`SELECT DISTINCT ${monthOfRun} AS month FROM runs UNION SELECT DISTINCT ${monthOfRun} FROM stage_runs UNION SELECT DISTINCT ${monthOfRun} FROM table_changes`)).map((m) => m.month);
  await exportRunMonths(state, dataDir, months);
  for (const table of runTables) {
    const dir = join(snapshotDir(dataDir), table);
    for (const entry of entries(dir)) {
      const month = monthFile.exec(entry.name);
      if (month && !months.includes(month[1] ?? '')) rmSync(join(dir, entry.name), { force: true });
    }
  }
}

/** One export over and over (after each stage commit), in order, at most one waiting: a request made while one runs is served by the next. */
export class SnapshotWriter {
  private current: Promise<void> = Promise.resolve();
  private pending: Promise<void> | undefined;

  constructor(
    private readonly work: () => Promise<void>,
    private readonly warn: (message: string) => void,
  ) {}

  request(): Promise<void> {
    this.pending ??= this.current.then(() => {
      this.pending = undefined;
      return this.work().catch((error: Error) => this.warn(`could not copy the state's records for readers: ${error.message}`));
    });
    this.current = this.pending;
    return this.pending;
  }

  /** Resolves once every export requested so far is written. */
  settled(): Promise<void> {
    return this.current;
  }
}
