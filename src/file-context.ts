// The CommandContext of a command that reads only files (pipeline.lock, the Parquet
// tables, the journals) and never opens the state database, so it works beside a
// `pipeline run`, which holds that database for as long as it runs.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { requireCommonJs } from './commonjs.js';
import { readLockFile } from './lockfile.js';
import { tableViews } from './tables.js';
import { journalViews, journalsDir } from './journal.js';
import { queryRows } from './state.js';
import { InputError } from './errors.js';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { CommandContext } from './command.js';
import { projectPaths, type Project } from './project.js';
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

/** What the views depend on: pipeline.lock's stat and the journal files there are (a rerun replaces a table at the same path). */
function viewsKey(project: ProjectFiles): string {
  const lock = statSync(project.paths.lock, { throwIfNoEntry: false });
  const journals = existsSync(journalsDir(project.dataDir)) ? readdirSync(journalsDir(project.dataDir)).sort().join('/') : '';
  return `${lock?.mtimeMs}:${lock?.size}:${lock?.ino}|${journals}`;
}

interface Channel {
  sql: Sql;
  /** Refuse further statements and resolve once the ones queued have finished. */
  drain(): Promise<void>;
}

/** One connection, one statement at a time, its temporary views rebuilt when pipeline.lock or the journals changed. */
function channel(project: ProjectFiles, connection: DuckDBConnection): Channel {
  let queue: Promise<unknown> = Promise.resolve();
  let viewsFor = '';
  let draining = false;
  const sql = <T = Row>(query: string, params?: Record<string, unknown>): Promise<T[]> => {
    if (draining) return Promise.reject(new Error('the database is closing'));
    const next = queue.then(async () => {
      const key = viewsKey(project);
      if (key !== viewsFor) {
        const views = tableViews(Object.entries(lockedTables(project)).map(([name, t]) => [name, t.path])) + (await journalViews(project.dataDir));
        if (views) await connection.run(views);
        viewsFor = key;
      }
      try {
        return await queryRows<T>(connection, query, params);
      } catch (error) {
        throw new InputError(`SQL: ${(error as Error).message}`, { field: 'query' });
      }
    });
    queue = next.catch(() => undefined);
    return next;
  };
  return {
    sql,
    async drain() {
      draining = true;
      await queue;
    },
  };
}

export interface FileSql {
  sql: Sql;
  /** Another connection to the same in-memory database (its tables shared, its views its own), for work that must not queue behind the first. */
  connect(): Promise<Sql>;
  /** Closes once every statement queued has finished: closing DuckDB under a running one crashes the process. */
  close(): Promise<void>;
}

/** An in-memory DuckDB whose views follow pipeline.lock and the journals: checked at every query, rebuilt when they changed. */
export async function fileSql(project: ProjectFiles): Promise<FileSql> {
  const { DuckDBInstance } = requireCommonJs('@duckdb/node-api') as typeof import('@duckdb/node-api');
  const instance = await DuckDBInstance.create(':memory:');
  const first = await instance.connect();
  const open: { connection: DuckDBConnection; channel: Channel }[] = [{ connection: first, channel: channel(project, first) }];
  return {
    sql: open[0]!.channel.sql,
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

export function fileCommandContext(project: Project, sql: Sql): CommandContext {
  return {
    projectDir: project.dir,
    dataDir: project.dataDir,
    params: project.params,
    sql,
    tables: async () => lockedTables(project),
    run: () => Promise.reject(new Error('this command reads files only and cannot start a run')),
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
  };
}
