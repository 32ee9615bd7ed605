// Which stored objects something still names. An object is kept when any of these names
// it, by path (absolute or project-relative) or by its content hash alone: a kept memo
// row (a value removed and added back is served from it), any table under data/tables,
// any table a command keeps in the state database (its own records, whose meaning the
// engine does not know) and pipeline.lock. Deleting one of those would leave a row
// pointing at nothing.
import { readFileSync } from 'node:fs';
import { glob } from './glob.js';
import { appendRows, type State } from './state.js';
import { sqlString } from './tables.js';

/** The engine's own tables: they name objects only through the memo (read from its `objects`). */
const engineTables = new Set(['meta', 'runs', 'stage_runs', 'table_changes', 'memo', 'stat_cache', 'glob_cache', 'stage_deps']);

const objectsTable = 'gc_objects';

/** The object files (hash.ext, in gc_objects) that a string cell of `source` names by hash or path. */
async function namedIn(state: State, source: string): Promise<string[]> {
  const cols = await state.query<{ column_name: string; column_type: string }>(`DESCRIBE SELECT * FROM ${source}`);
  const found: string[] = [];
  for (const col of cols) {
    const value = col.column_type === 'VARCHAR' ? `"${col.column_name}"` : col.column_type === 'VARCHAR[]' ? `unnest("${col.column_name}")` : null;
    if (!value) continue;
    const cells = `(SELECT DISTINCT ${value} AS v FROM ${source})`;
    const rows = await state.query<{ name: string }>(
      `SELECT o.name FROM ${objectsTable} o JOIN ${cells} x ON x.v = o.hash
       UNION SELECT o.name FROM ${objectsTable} o JOIN (SELECT regexp_extract(v, '[^/\\\\]+$') AS base FROM ${cells} WHERE v LIKE '%objects%') y ON y.base = o.name`,
    );
    found.push(...rows.map((r) => r.name));
  }
  return found;
}

/** Memo parts from before the memo recorded its rows' objects: read their string cells. */
async function namedByOldMemoRows(state: State, projectDir: string, keptMemo: string): Promise<string[]> {
  const rows = await state.query<{ part: string }>(`SELECT DISTINCT part FROM memo WHERE ${keptMemo} AND objects IS NULL`);
  const found: string[] = [];
  for (const { part } of rows) {
    for (const file of await glob(`${part}.*.parquet`, { cwd: projectDir, absolute: true })) found.push(...(await namedIn(state, `read_parquet(${sqlString(file)})`)));
  }
  return found;
}

/** The object file names (hash.ext) something names, among those under `objectFiles`. */
export async function referencedObjects(state: State, options: { projectDir: string; tablesDir: string; lockFile: string; objectFiles: string[]; keptMemo: string }): Promise<Set<string>> {
  const names = options.objectFiles.map((f) => f.split('/').pop()!);
  await state.transaction(async (c) => {
    await c.run(`CREATE OR REPLACE TEMP TABLE ${objectsTable} (name VARCHAR, hash VARCHAR)`);
    await appendRows(c, objectsTable, names.map((n) => [n, n.replace(/\.[^.]*$/, '')]));
  });
  const kept = new Set<string>();
  const memoObjects = `(SELECT unnest(string_split(objects, chr(9))) AS path FROM memo WHERE ${options.keptMemo} AND coalesce(objects, '') <> '')`;
  for (const name of await namedIn(state, memoObjects)) kept.add(name);
  for (const name of await namedByOldMemoRows(state, options.projectDir, options.keptMemo)) kept.add(name);
  for (const file of await glob('**/*.parquet', { cwd: options.tablesDir, absolute: true }).catch(() => [] as string[])) {
    // A damaged table names nothing that can be trusted; the memo rows still name what the next run rebuilds it from.
    const named = await namedIn(state, `read_parquet(${sqlString(file)})`).catch(() => [] as string[]);
    for (const name of named) kept.add(name);
  }
  const stateTables = await state.query<{ name: string }>("SELECT table_name AS name FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND table_schema = 'main'");
  for (const { name } of stateTables.filter((t) => !engineTables.has(t.name))) {
    for (const found of await namedIn(state, `"${name}"`)) kept.add(found);
  }
  let lock = '';
  try {
    lock = readFileSync(options.lockFile, 'utf8');
  } catch {}
  for (const name of names) if (lock.includes(name.replace(/\.[^.]*$/, ''))) kept.add(name);
  await state.run(`DROP TABLE IF EXISTS ${objectsTable}`);
  return kept;
}

export const objectFilesUnder = (objectsDir: string) => glob('*/*', { cwd: objectsDir, absolute: true }).catch(() => [] as string[]);
