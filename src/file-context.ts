// The CommandContext of a command that reads only files (pipeline.lock, the Parquet
// tables, the journals, the state snapshot) and never opens the state database, so it
// works beside a `pipeline run`, which holds that database for as long as it runs, on a
// project never run, and on a read-only data folder. Its DuckDB is the SQL sandbox.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { requireCommonJs } from './commonjs.js';
import { lockLost, readLockFile, useLockFromState } from './lockfile.js';
import { lockOfEntries } from './lock-records.js';
import { tableViews } from './tables.js';
import { journalViews, journalsDir } from './journal.js';
import { queryRows } from './state.js';
import { snapshotDir, snapshotLockEntries, snapshotTables } from './state-snapshot.js';
import { sqlString } from './tables.js';
import { lockDown, readOnlyQuery } from './sql-sandbox.js';
import { InputError } from './errors.js';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { CommandContext } from './command.js';
import type { Project } from './project.js';
import { projectPaths } from './project-dir.js';
import type { Row, Sql } from './stage.js';

/** The files a files-only reader needs: the project folder, its data folder and pipeline.lock. */
export interface ProjectFiles {
  dir: string;
  dataDir: string;
  paths: { lock: string };
}

export function projectFiles(dir: string): ProjectFiles {
  const { dataDir, paths } = projectPaths(resolve(dir));
  return { dir: resolve(dir), dataDir, paths: { lock: paths.lock } };
}

/** Current table artifacts as pipeline.lock records them: name -> absolute Parquet path and hash. */
export function lockedTables(project: ProjectFiles): Record<string, { path: string; hash: string }> {
  const tables: Record<string, { path: string; hash: string }> = {};
  for (const entry of Object.values(readLockFile(project.paths.lock).stages)) {
    for (const [name, out] of Object.entries(entry.outs)) if (out.kind === 'table') tables[name] = { path: resolve(project.dir, out.path), hash: out.hash };
  }
  return tables;
}

/** The only folders the sandbox may touch: the tables, the stored objects, the journals and the state snapshot. */
function readableDirs(project: ProjectFiles): string[] {
  const { paths } = projectPaths(project.dir);
  const tableDirs = Object.values(lockedTables(project)).map((t) => dirname(t.path));
  return [...new Set([paths.tables, paths.objects, journalsDir(project.dataDir), snapshotDir(project.dataDir), ...tableDirs])];
}

const listing = (dir: string) => (existsSync(dir) ? readdirSync(dir).sort().join('/') : '');

/** What the views depend on: pipeline.lock's stat and the journal and snapshot files there are (a rerun replaces a table at the same path). */
function viewsKey(project: ProjectFiles): string {
  const lock = statSync(project.paths.lock, { throwIfNoEntry: false });
  const entries = statSync(snapshotLockEntries(project.dataDir), { throwIfNoEntry: false });
  return `${lock?.mtimeMs}:${lock?.size}:${lock?.ino}|${entries?.mtimeMs}:${entries?.ino}|${listing(journalsDir(project.dataDir))}|${listing(snapshotDir(project.dataDir))}`;
}

/** Where pipeline.lock and its copy are both gone, the lock as the state's snapshot records it: what status reads from the state. */
async function standInForLostLock(project: ProjectFiles, connection: DuckDBConnection): Promise<void> {
  const file = snapshotLockEntries(project.dataDir);
  if (!lockLost(project.paths.lock) || !existsSync(file)) return;
  const lock = lockOfEntries(await queryRows<{ stage: string; entry: string }>(connection, `SELECT stage, entry FROM read_parquet(${sqlString(file)}) ORDER BY stage`));
  if (lock) useLockFromState(project.paths.lock, lock);
}

/** State records first: a table output or journal of the same name wins. */
async function currentViews(project: ProjectFiles): Promise<string> {
  const tables = Object.entries(lockedTables(project)).map(([name, t]): [string, string] => [name, t.path]);
  return tableViews([...snapshotTables(project.dataDir), ...tables]) + (await journalViews(project.dataDir));
}

interface Channel {
  /** Any statement, on the in-memory database: for the engine's and the web app's own SQL. */
  sql: Sql;
  /** One SELECT: for SQL a person wrote. */
  query: Sql;
  /** Refuse further statements and resolve once the ones queued have finished. */
  drain(): Promise<void>;
}

/** One connection, one statement at a time, its temporary views rebuilt when pipeline.lock, the journals or the snapshot changed. */
function channel(project: ProjectFiles, connection: DuckDBConnection): Channel {
  let queue: Promise<unknown> = Promise.resolve();
  let viewsFor = '';
  let draining = false;
  const queued = <T>(work: () => Promise<T>): Promise<T> => {
    if (draining) return Promise.reject(new Error('the database is closing'));
    const next = queue.then(async () => {
      const key = viewsKey(project);
      if (key !== viewsFor) {
        await standInForLostLock(project, connection);
        const views = await currentViews(project);
        if (views) await connection.run(views);
        viewsFor = key;
      }
      return work();
    });
    queue = next.catch(() => undefined);
    return next;
  };
  return {
    sql: <T = Row>(query: string, params?: Record<string, unknown>) =>
      queued(() =>
        queryRows<T>(connection, query, params).catch((error: Error) => {
          throw new InputError(`SQL: ${error.message}`, { field: 'query' });
        }),
      ),
    query: <T = Row>(query: string, params?: Record<string, unknown>) => queued(() => readOnlyQuery<T>(connection, query, params)),
    async drain() {
      draining = true;
      await queue;
    },
  };
}

export interface FileSql {
  sql: Sql;
  /** One read-only query (SELECT), refused before it runs if it is anything else: for SQL a person wrote. */
  query: Sql;
  /** Another connection to the same in-memory database (its tables shared, its views its own), for work that must not queue behind the first. */
  connect(): Promise<Sql>;
  /** Closes once every statement queued has finished: closing DuckDB under a running one crashes the process. */
  close(): Promise<void>;
}

/**
 * An in-memory DuckDB whose views follow pipeline.lock, the journals and the state
 * snapshot (checked at every query, rebuilt when they changed), locked down to the
 * project's own table, object, journal and snapshot folders.
 */
export async function fileSql(project: ProjectFiles): Promise<FileSql> {
  const { DuckDBInstance } = requireCommonJs('@duckdb/node-api') as typeof import('@duckdb/node-api');
  const instance = await DuckDBInstance.create(':memory:');
  const first = await instance.connect();
  // Before the allow-list is drawn from the lock's tables.
  await standInForLostLock(project, first);
  await lockDown(first, readableDirs(project));
  const open: { connection: DuckDBConnection; channel: Channel }[] = [{ connection: first, channel: channel(project, first) }];
  return {
    sql: open[0]!.channel.sql,
    query: open[0]!.channel.query,
    async connect() {
      const connection = await instance.connect();
      open.push({ connection, channel: channel(project, connection) });
      return open.at(-1)!.channel.sql;
    },
    async close() {
      await Promise.all(open.map((o) => o.channel.drain()));
      for (const o of open) o.connection.closeSync();
      instance.closeSync();
    },
  };
}

/** A file reader's context: its sql is the sandbox's one SELECT at a time. */
export function fileCommandContext(project: Project, files: FileSql): CommandContext {
  return {
    projectDir: project.dir,
    dataDir: project.dataDir,
    params: project.params,
    sql: files.query,
    query: files.query,
    tables: async () => lockedTables(project),
    run: () => Promise.reject(new Error('this command reads files only and cannot start a run')),
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
  };
}

