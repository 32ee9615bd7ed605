// SQL a person wrote (`pipeline sql`, report files and their params, `prune --where`)
// runs in a sandbox: an in-memory DuckDB over the project's own files that cannot read or
// write any other file, attach a database, or install and load an extension, and on it
// one SELECT at a time, so no statement can change anything.
import { requireCommonJs } from './commonjs.js';
import { InputError } from './errors.js';
import { rowsOf } from './state.js';
import { sqlString } from './tables.js';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { Row } from './stage.js';

/** DuckDB's statement kinds, required at the first query rather than at import: loading DuckDB costs every command that never queries (--version, help). */
const statementTypes = () => (requireCommonJs('@duckdb/node-api') as typeof import('@duckdb/node-api')).StatementType;

/**
 * After this the instance reads and writes files only under `dirs`, for good: DuckDB
 * refuses to turn external access back on or to change the allow-list while the database
 * runs. Other settings stay open to the engine's own SQL (the web app tunes some); SQL a
 * person wrote cannot SET anything, since only a SELECT runs.
 */
export async function lockDown(connection: DuckDBConnection, dirs: string[]): Promise<void> {
  const list = dirs.map((dir) => sqlString(dir.endsWith('/') ? dir : `${dir}/`)).join(', ');
  await connection.run(`SET allowed_directories = [${list}]`);
  await connection.run('SET enable_external_access = false');
}

const surgery = 'pipeline sql runs one read-only query; `pipeline sql --write` is for deliberate changes to the state database';

/** The statement's first keyword as written (DuckDB files INSTALL under LOAD), else DuckDB's name for its kind. */
function statementName(query: string, type: number): string {
  const keyword = /^\s*([a-z]+)/i.exec(query.replace(/^\s*(--[^\n]*\n|\/\*[\s\S]*?\*\/)*/, ''))?.[1];
  return keyword ? keyword.toUpperCase() : (statementTypes()[type] ?? 'non-SELECT');
}

/** One SELECT (WITH, FROM, VALUES, DESCRIBE and SHOW are SELECTs too), refused before it runs if it is anything else. */
export async function readOnlyQuery<T = Row>(connection: DuckDBConnection, query: string, params?: Record<string, unknown>): Promise<T[]> {
  let statements: Awaited<ReturnType<DuckDBConnection['extractStatements']>>;
  try {
    statements = await connection.extractStatements(query);
  } catch (error) {
    throw new InputError(`SQL: ${(error as Error).message}`, { field: 'query' });
  }
  if (statements.count !== 1) {
    throw new InputError(`SQL: expected one statement, got ${statements.count}: ${surgery}`, { field: 'query' });
  }
  try {
    const prepared = await statements.prepare(0);
    if (prepared.statementType !== statementTypes().SELECT) {
      const kind = statementName(query, prepared.statementType);
      throw new InputError(`SQL: expected a query (SELECT), got ${/^[AEIOU]/.test(kind) ? 'an' : 'a'} ${kind} statement: ${surgery}`, { field: 'query' });
    }
    if (params) prepared.bind(params as never);
    return rowsOf<T>(await prepared.runAndReadAll());
  } catch (error) {
    if (error instanceof InputError) throw error;
    throw new InputError(`SQL: ${(error as Error).message}`, { field: 'query' });
  }
}
