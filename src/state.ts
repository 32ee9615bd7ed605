// The project's state: one DuckDB file (data/state.duckdb) holding runs, stage
// executions, the item memo, the stat cache and user-filled tables. One connection,
// used by one query at a time. DuckDB admits one writer per file, and a reader shuts
// writers out while it has the file open: readers open it read-only and briefly, and a
// writer waits a moment for them.
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { requireCommonJs } from './commonjs.js';
import type { DuckDBConnection, DuckDBInstance, DuckDBResultReader } from '@duckdb/node-api';
import type { Row } from './stage.js';

/** Bumped when a cache table changes shape; caches are dropped and rebuilt, records are kept. */
const stateVersion = '5';
/** Dropped on an upgrade: caches, and tables an older version kept (dep_files became stage_deps). */
const cacheTables = ['stat_cache', 'glob_cache', 'dep_files'];

const objectStatsTable = 'CREATE TABLE IF NOT EXISTS object_stats (path VARCHAR, size BIGINT, mtime_ms VARCHAR, ino BIGINT);';

const schema = `
CREATE TABLE IF NOT EXISTS meta (key VARCHAR, value VARCHAR);
CREATE TABLE IF NOT EXISTS runs (
  run_id VARCHAR, started_at TIMESTAMP, finished_at TIMESTAMP, status VARCHAR,
  argv VARCHAR, pid INTEGER, host VARCHAR);
CREATE TABLE IF NOT EXISTS stage_runs (
  run_id VARCHAR, stage VARCHAR, started_at TIMESTAMP, finished_at TIMESTAMP,
  status VARCHAR, fingerprint VARCHAR, items_total INTEGER, items_run INTEGER,
  items_reused INTEGER, items_failed INTEGER, duration_ms DOUBLE, error VARCHAR);
CREATE TABLE IF NOT EXISTS table_changes (
  run_id VARCHAR, stage VARCHAR, table_name VARCHAR, committed_at TIMESTAMP,
  rows BIGINT, added BIGINT, removed BIGINT, changed BIGINT, keyed BOOLEAN);
CREATE TABLE IF NOT EXISTS memo (
  stage VARCHAR, fp VARCHAR, item VARCHAR, item_key VARCHAR, part VARCHAR,
  out_hash VARCHAR, status VARCHAR, error VARCHAR, run_id VARCHAR, objects VARCHAR);
CREATE TABLE IF NOT EXISTS stat_cache (
  path VARCHAR, size BIGINT, mtime_ms VARCHAR, ino BIGINT, hash VARCHAR);
CREATE TABLE IF NOT EXISTS glob_cache (pattern VARCHAR, entry VARCHAR);
CREATE TABLE IF NOT EXISTS stage_deps (stage VARCHAR, files VARCHAR, dynamic VARCHAR);
CREATE TABLE IF NOT EXISTS lock_entries (stage VARCHAR, entry VARCHAR);
${objectStatsTable}
`;

/**
 * Before version 5 the store's objects were stat_cache rows (absolute paths, the hash being
 * the name). Those whose hash was their name carry over to object_stats, keyed under the
 * objects folder (ab/<hash>.png), so the upgrade reads no image again.
 */
const carryObjectStats = `
${objectStatsTable}
INSERT INTO object_stats
  SELECT regexp_extract(path, '([0-9a-f]{2}/[0-9a-f]{32}\\.[A-Za-z0-9]+)$', 1), size, mtime_ms, ino FROM stat_cache
  WHERE regexp_matches(path, '/objects/[0-9a-f]{2}/[0-9a-f]{32}\\.[A-Za-z0-9]+$') AND hash = regexp_extract(path, '([0-9a-f]{32})\\.[A-Za-z0-9]+$', 1);`;

/** Every table the schema creates. */
const stateTables = [...schema.matchAll(/CREATE TABLE IF NOT EXISTS (\w+)/g)].map((m) => m[1]!);

export interface StateOpenOptions {
  /**
   * 'read': never writes a byte: the file opened read-only, or, for a project never run,
   * an empty state in memory. 'write' (the default) creates and upgrades the file.
   * 'cache' (status): writes, to keep what it hashed, only to a state that exists and
   * whose modes allow it; else reads.
   */
  mode?: 'read' | 'write' | 'cache';
  /** How long a writer retries while another process has the file open (a reader, briefly). */
  lockWaitMs?: number;
  /** the file as messages name it (relative to the project); default: the path given */
  shownAs?: string;
}

export class StateInUseError extends Error {
  constructor(file: string) {
    super(`the state database ${file} is in use by another pipeline process`);
  }
}

/**
 * The state file and its folder exist and their modes let the owner write. Root could
 * write a file chmod'ed read-only anyway; a user who made it so means it to stay as it is.
 */
function writableByModes(file: string): boolean {
  const modes = [file, dirname(file)].map((path) => statSync(path, { throwIfNoEntry: false })?.mode);
  return modes.every((mode) => mode !== undefined && (mode & 0o200) !== 0);
}

const isLockConflict = (error: unknown) => /lock/i.test((error as Error).message);

/**
 * DuckDB keeps what it read of every file in memory by default (the external file cache):
 * a map stage's assembly reads thousands of small memo parts, and the cache held about
 * 200 KB each, 5 KB per item, for files the OS page cache keeps anyway.
 */
const instanceConfig = { enable_external_file_cache: 'false' };

async function createInstance(file: string, config: Record<string, string>, lockWaitMs: number, shownAs: string): Promise<DuckDBInstance> {
  const { DuckDBInstance } = requireCommonJs('@duckdb/node-api') as typeof import('@duckdb/node-api');
  const until = Date.now() + lockWaitMs;
  for (let wait = 25; ; wait = Math.min(wait * 2, 400)) {
    try {
      return await DuckDBInstance.create(file, { ...instanceConfig, ...config });
    } catch (error) {
      if (!isLockConflict(error)) throw error;
      if (Date.now() + wait > until) throw new StateInUseError(shownAs);
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}

export class State {
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly instance: DuckDBInstance,
    readonly connection: DuckDBConnection,
    /** false for a state opened to read: caches are not flushed, nothing is recorded */
    readonly writable: boolean,
  ) {}

  static async open(file: string, options: StateOpenOptions = {}): Promise<State> {
    const lockWaitMs = options.lockWaitMs ?? 0;
    if (options.mode === 'cache') {
      if (!writableByModes(file)) return State.open(file, { ...options, mode: 'read' });
      return State.open(file, { ...options, mode: 'write' }).catch((error: NodeJS.ErrnoException) => {
        if (error instanceof StateInUseError || !/read-only|permission|EROFS|EACCES/i.test(error.message)) throw error;
        return State.open(file, { ...options, mode: 'read' });
      });
    }
    if (options.mode === 'read') {
      // A project never run has nothing to read yet: an empty state, in memory, creates no file.
      const exists = existsSync(file);
      const instance = await createInstance(exists ? file : ':memory:', exists ? { access_mode: 'READ_ONLY' } : {}, lockWaitMs, options.shownAs ?? file);
      const state = new State(instance, await instance.connect(), false);
      if (exists) await state.checkVersion(options.shownAs ?? file);
      else await state.connection.run(schema);
      return state;
    }
    mkdirSync(dirname(file), { recursive: true });
    const instance = await createInstance(file, {}, lockWaitMs, options.shownAs ?? file);
    const connection = await instance.connect();
    // The state is mostly hashes and paths, rewritten at every checkpoint: compressing them
    // costs half of a first run's closing time (30 ms for 20,000 files) to save a few MB.
    await connection.run("PRAGMA force_compression = 'uncompressed'");
    const state = new State(instance, connection, true);
    await state.upgrade();
    return state;
  }

  /** A read-only state cannot be upgraded: one from another version is for a run to upgrade first. */
  private async checkVersion(shown: string): Promise<void> {
    const hasMeta = (await this.connection.runAndReadAll("SELECT 1 FROM information_schema.tables WHERE table_name = 'meta'")).getColumns()[0]?.length;
    const found = hasMeta ? (await this.connection.runAndReadAll("SELECT value FROM meta WHERE key = 'state_version'")).getColumns()[0]?.[0] : undefined;
    if (found !== stateVersion) {
      await this.close();
      throw new Error(`the state database ${shown} is from another sdloop version (state version ${String(found ?? 'none')}, this one reads ${stateVersion}); \`pipeline run\` upgrades it`);
    }
  }

  private async upgrade(): Promise<void> {
    const c = this.connection;
    await c.run('CREATE TABLE IF NOT EXISTS meta (key VARCHAR, value VARCHAR)');
    const found = (await c.runAndReadAll("SELECT value FROM meta WHERE key = 'state_version'")).getColumns()[0]?.[0];
    if (found === stateVersion) {
      // A table dropped by hand (or by a stray statement) comes back empty rather than breaking every command.
      const present = (await c.runAndReadAll("SELECT count(*)::INTEGER FROM information_schema.tables WHERE table_schema = 'main' AND table_name IN (" + stateTables.map((t) => `'${t}'`).join(', ') + ')')).getColumns()[0]?.[0];
      if (present === stateTables.length) return;
      await c.run(schema);
      return;
    }
    const hasStatCache = (await c.runAndReadAll("SELECT 1 FROM information_schema.tables WHERE table_name = 'stat_cache'")).getColumns()[0]?.length;
    // One statement list in one transaction: a killed upgrade leaves the old version whole.
    await c.run(`BEGIN TRANSACTION;
      ${hasStatCache ? carryObjectStats : ''}
      ${cacheTables.map((table) => `DROP TABLE IF EXISTS ${table};`).join('\n')}
      ${schema}
      ALTER TABLE memo ADD COLUMN IF NOT EXISTS objects VARCHAR;
      DELETE FROM meta WHERE key = 'state_version';
      INSERT INTO meta VALUES ('state_version', '${stateVersion}');
      COMMIT;`);
  }

  /** Serialise every use of the connection: DuckDB runs one statement at a time per connection anyway. */
  exclusive<T>(work: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
    const next = this.queue.then(() => work(this.connection));
    this.queue = next.catch(() => undefined);
    return next;
  }

  query<T = Row>(sql: string, params?: Record<string, unknown>): Promise<T[]> {
    return this.exclusive((c) => queryRows<T>(c, sql, params));
  }

  run(sql: string, params?: Record<string, unknown>): Promise<void> {
    return this.exclusive(async (c) => {
      await c.run(sql, params as never);
    });
  }

  /** All statements inside `work` commit together or not at all. */
  transaction<T>(work: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
    return this.exclusive(async (c) => {
      await c.run('BEGIN TRANSACTION');
      try {
        const result = await work(c);
        await c.run('COMMIT');
        return result;
      } catch (error) {
        await c.run('ROLLBACK');
        throw error;
      }
    });
  }

  async tableExists(name: string): Promise<boolean> {
    const rows = await this.query<{ n: number }>(
      `SELECT count(*)::INTEGER AS n FROM information_schema.tables WHERE table_name = $name`,
      { name },
    );
    return (rows[0]?.n ?? 0) > 0;
  }

  /** Closes once the statements queued so far have finished: closing under a running one can hang the process. */
  async close(): Promise<void> {
    await this.queue;
    this.connection.closeSync();
    this.instance.closeSync();
  }
}

// BIGINT, UBIGINT, HUGEINT, UHUGEINT, DECIMAL: DuckDB's JSON conversion turns them into strings.
const wideNumberTypes = new Set([5, 9, 16, 32, 19]);

/** Rows as JSON-friendly objects, with wide integers and decimals as numbers where that is exact. */
export async function queryRows<T = Row>(connection: DuckDBConnection, sql: string, params?: Record<string, unknown>): Promise<T[]> {
  return rowsOf<T>(await connection.runAndReadAll(sql, params as never));
}

/** A result's rows as JSON-friendly objects (see queryRows). */
export function rowsOf<T = Row>(reader: DuckDBResultReader): T[] {
  const rows = reader.getRowObjectsJson() as Record<string, unknown>[];
  const names = reader.columnNames();
  const wide = reader.columnTypes().flatMap((type, i) => (wideNumberTypes.has(type.typeId) ? [names[i]!] : []));
  for (const row of rows) for (const name of wide) row[name] = asNumberIfExact(row[name]);
  return rows as T[];
}

function asNumberIfExact(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const isInteger = /^-?\d+$/.test(value);
  return !isInteger || Number.isSafeInteger(Number(value)) ? Number(value) : value;
}

/** Insert plain string/number rows fast through an appender (columns in table order). */
export async function appendRows(connection: DuckDBConnection, table: string, rows: (string | number | null)[][]): Promise<void> {
  const appender = await connection.createAppender(table);
  for (const row of rows) {
    for (const value of row) {
      if (value === null) appender.appendNull();
      else if (typeof value === 'number') appender.appendDouble(value);
      else appender.appendVarchar(value);
    }
    appender.endRow();
  }
  appender.closeSync();
}
