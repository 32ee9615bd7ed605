// "What changed since the last run": the rows each table gained, lost and changed in the
// last run that committed a stage, from the engine's `table_changes` records (counted at
// each commit against the version it replaced, on the table's key columns).
import type { Sql } from '../../src/stage.js';

export interface TableChanges {
  run: { run_id: string; argv: string; started: string };
  tables: { table: string; stage: string; rows: number; added: number; removed: number; changed: number; keyed: boolean }[];
}

const lastChangeSql = `
SELECT c.run_id, coalesce(r.argv, '') AS argv, coalesce(strftime(r.started_at, '%Y-%m-%d %H:%M:%S'), '') AS started
FROM table_changes c LEFT JOIN runs r USING (run_id)
ORDER BY c.committed_at DESC LIMIT 1`;

const tablesSql = `
SELECT table_name AS "table", stage, arg_max(rows, committed_at)::BIGINT AS rows, sum(added)::BIGINT AS added,
       sum(removed)::BIGINT AS removed, sum(changed)::BIGINT AS changed, bool_and(keyed) AS keyed
FROM table_changes WHERE run_id = $run
GROUP BY table_name, stage ORDER BY min(committed_at), table_name`;

export async function readTableChanges(sql: Sql, existing: Set<string>): Promise<TableChanges | null> {
  if (!existing.has('table_changes') || !existing.has('runs')) return null;
  const [last] = await sql(lastChangeSql);
  if (!last) return null;
  const tables = await sql(tablesSql, { run: String(last.run_id) });
  return {
    run: { run_id: String(last.run_id), argv: String(last.argv), started: String(last.started) },
    tables: tables.map((t) => ({
      table: String(t.table), stage: String(t.stage), rows: Number(t.rows), added: Number(t.added), removed: Number(t.removed), changed: Number(t.changed), keyed: Boolean(t.keyed),
    })),
  };
}

/** `images: +12 -0 ~3; scores: +12`: the tables that changed, `~` (rows changed in place) where rows have a key to match them on. */
export function changesLine(changes: TableChanges): string {
  const changed = changes.tables.filter((t) => t.added + t.removed + t.changed > 0);
  if (changed.length === 0) return 'no table changed';
  return changed.map((t) => `${t.table}: +${t.added} -${t.removed}${t.keyed ? ` ~${t.changed}` : ''}`).join('; ');
}
