// What a stage's commit changed in each of its tables: rows added, removed and changed,
// counted by comparing the version it replaces with the new one in DuckDB before the old
// file is removed. Rows are matched on the output's declared key columns; a table with
// none is matched on whole rows (a changed row counts as one removed and one added).
// Columns that are run facts (timings) are left out, as from the table's hash. The
// counts go to the `table_changes` record table, one row per table per commit, which
// readers see in the state's snapshot like `stage_runs`.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { sqlString } from './tables.js';
import type { State } from './state.js';
import type { OutputDecl } from './stage.js';
import type { OutputRecord } from './lockfile.js';

export interface TableChange {
  table_name: string;
  rows: number;
  added: number;
  removed: number;
  changed: number;
  /** matched on key columns; false: on whole rows, so `changed` is always 0 */
  keyed: boolean;
}

type TableDecl = Extract<OutputDecl, { kind: 'table' }>;

const quoted = (column: string) => `"${column.replaceAll('"', '""')}"`;

/** Per row: a hash of its key and of its content (run facts aside), over one Parquet file. */
function hashedRows(path: string, decl: TableDecl): string {
  const facts = decl.runFacts ?? [];
  const content = facts.length ? `SELECT * EXCLUDE (${facts.map(quoted).join(', ')}) FROM read_parquet(${sqlString(path)})` : `SELECT * FROM read_parquet(${sqlString(path)})`;
  const key = decl.key?.length ? `hash(${decl.key.map(quoted).join(', ')})` : 'hash(r)';
  return `SELECT ${key} AS k, hash(r) AS h FROM (${content}) r`;
}

/**
 * The change from `before` (the version the lock named; undefined for a table's first
 * version) to `after`. Counting on multisets (EXCEPT ALL) keeps duplicate keys honest:
 * new rows that match no old row exactly are the added ones plus the changed ones.
 */
export async function tableChange(state: State, name: string, decl: TableDecl, after: string, before: string | undefined): Promise<TableChange> {
  const now = hashedRows(after, decl);
  const [counted] = before === undefined
    ? await state.query<{ rows: number }>(`SELECT count(*)::BIGINT AS rows FROM (${now})`)
    : await state.query<{ rows: number; added: number; removed: number; differing: number }>(`
      WITH n AS (${now}), o AS (${hashedRows(before, decl)})
      SELECT (SELECT count(*) FROM n)::BIGINT AS rows,
             (SELECT count(*) FROM (SELECT k FROM n EXCEPT ALL SELECT k FROM o))::BIGINT AS added,
             (SELECT count(*) FROM (SELECT k FROM o EXCEPT ALL SELECT k FROM n))::BIGINT AS removed,
             (SELECT count(*) FROM (SELECT k, h FROM n EXCEPT ALL SELECT k, h FROM o))::BIGINT AS differing`);
  const row = counted as { rows: number; added?: number; removed?: number; differing?: number };
  const rows = Number(row.rows);
  const added = before === undefined ? rows : Number(row.added);
  return { table_name: name, rows, added, removed: Number(row.removed ?? 0), changed: Math.max(0, Number(row.differing ?? added) - added), keyed: Boolean(decl.key?.length) };
}

/** What a commit changes in each table output (`outs`), against the versions pipeline.lock names until then (`previous`). */
export async function changesOfCommit(state: State, projectDir: string, outputs: Record<string, OutputDecl>, outs: Record<string, OutputRecord>, previous: Record<string, OutputRecord>): Promise<TableChange[]> {
  const changes: TableChange[] = [];
  for (const [name, decl] of Object.entries(outputs)) {
    const out = outs[name];
    if (decl.kind !== 'table' || !out) continue;
    const after = resolve(projectDir, out.path);
    const before = previous[name];
    if (before?.hash === out.hash) {
      const [counted] = await state.query<{ rows: number }>(`SELECT count(*)::BIGINT AS rows FROM read_parquet(${sqlString(after)})`);
      changes.push({ table_name: name, rows: Number(counted!.rows), added: 0, removed: 0, changed: 0, keyed: Boolean(decl.key?.length) });
      continue;
    }
    // A version gc or a hand removed leaves nothing to compare with: every row counts as new.
    const beforePath = before && existsSync(resolve(projectDir, before.path)) ? resolve(projectDir, before.path) : undefined;
    changes.push(await tableChange(state, name, decl, after, beforePath));
  }
  return changes;
}

/** One row per table a commit wrote, under the run and stage that wrote it. */
export async function recordTableChanges(state: State, runId: string, stage: string, changes: TableChange[]): Promise<void> {
  for (const c of changes) {
    await state.run('INSERT INTO table_changes VALUES ($run, $stage, $table, now(), $rows, $added, $removed, $changed, $keyed)', {
      run: runId, stage, table: c.table_name, rows: c.rows, added: c.added, removed: c.removed, changed: c.changed, keyed: c.keyed,
    });
  }
}
