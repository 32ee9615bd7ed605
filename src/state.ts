// The project's state: one DuckDB file (data/state.duckdb) holding runs, stage
// executions, the item memo, the stat cache and user-filled tables. One connection,
// used by one query at a time.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { requireCommonJs } from './commonjs.js';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import type { Row } from './stage.js';

/** Bumped when a cache table changes shape; caches are dropped and rebuilt, records are kept. */
const stateVersion = '4';
/** Dropped on an upgrade: caches, and tables an older version kept (dep_files became stage_deps). */
const cacheTables = ['stat_cache', 'glob_cache', 'dep_files'];

const schema = `
CREATE TABLE IF NOT EXISTS meta (key VARCHAR, value VARCHAR);
CREATE TABLE IF NOT EXISTS runs (
  run_id VARCHAR, started_at TIMESTAMP, finished_at TIMESTAMP, status VARCHAR,
  argv VARCHAR, pid INTEGER, host VARCHAR);
CREATE TABLE IF NOT EXISTS stage_runs (
  run_id VARCHAR, stage VARCHAR, started_at TIMESTAMP, finished_at TIMESTAMP,
  status VARCHAR, fingerprint VARCHAR, items_total INTEGER, items_run INTEGER,
  items_reused INTEGER, items_failed INTEGER, duration_ms DOUBLE, error VARCHAR);
CREATE TABLE IF NOT EXISTS memo (
  stage VARCHAR, fp VARCHAR, item VARCHAR, item_key VARCHAR, part VARCHAR,
  out_hash VARCHAR, status VARCHAR, error VARCHAR, run_id VARCHAR, objects VARCHAR);
CREATE TABLE IF NOT EXISTS stat_cache (
  path VARCHAR, size BIGINT, mtime_ms VARCHAR, ino BIGINT, hash VARCHAR);
CREATE TABLE IF NOT EXISTS glob_cache (pattern VARCHAR, entry VARCHAR);
CREATE TABLE IF NOT EXISTS stage_deps (stage VARCHAR, files VARCHAR, dynamic VARCHAR);
`;

/** Every table the schema creates. */
const stateTables = [...schema.matchAll(/CREATE TABLE IF NOT EXISTS (\w+)/g)].map((m) => m[1]!);

export class State {
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly instance: DuckDBInstance,
    readonly connection: DuckDBConnection,
  ) {}

  static async open(file: string): Promise<State> {
    mkdirSync(dirname(file), { recursive: true });
    const { DuckDBInstance } = requireCommonJs('@duckdb/node-api') as typeof import('@duckdb/node-api');
    let instance: DuckDBInstance;
    try {
      instance = await DuckDBInstance.create(file);
    } catch (error) {
      const message = (error as Error).message;
      if (/lock/i.test(message)) throw new Error(`the state database ${file} is in use by another pipeline process`);
      throw error;
    }
    const connection = await instance.connect();
    // The state is mostly hashes and paths, rewritten at every checkpoint: compressing them
    // costs half of a first run's closing time (30 ms for 20,000 files) to save a few MB.
    await connection.run("PRAGMA force_compression = 'uncompressed'");
    const state = new State(instance, connection);
    await state.upgrade();
    return state;
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
    // One statement list in one transaction: a killed upgrade leaves the old version whole.
    await c.run(`BEGIN TRANSACTION;
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
  const reader = await connection.runAndReadAll(sql, params as never);
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
