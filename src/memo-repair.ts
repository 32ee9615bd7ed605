// Memo parts damaged on disk (truncated, garbled, deleted by hand) are found when putting
// a map stage's tables together fails; their memo rows and files are removed, so their
// items run again, instead of the stage failing on them forever.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { sqlString } from './tables.js';
import type { State } from './state.js';

/** Whether DuckDB reads a part file whole (every column of every row, not just its footer). */
async function readable(state: State, file: string): Promise<boolean> {
  try {
    await state.run(`CREATE OR REPLACE TEMP TABLE memo_part_check AS SELECT * FROM read_parquet(${sqlString(file)})`);
    return true;
  } catch {
    return false;
  } finally {
    await state.run('DROP TABLE IF EXISTS memo_part_check');
  }
}

/** Of `parts` (project-relative, as memo rows name them), those with a table file that cannot be read: removed, rows and files. */
export async function removeDamagedParts(state: State, projectDir: string, stage: string, parts: string[], tables: string[]): Promise<string[]> {
  const damaged: string[] = [];
  for (const part of parts) {
    const files = tables.map((table) => join(projectDir, `${part}.${table}.parquet`));
    let whole = true;
    for (const file of files) if (whole && !(await readable(state, file))) whole = false;
    if (whole) continue;
    await state.run('DELETE FROM memo WHERE stage = $stage AND part = $part', { stage, part });
    for (const file of files) await rm(file, { force: true });
    damaged.push(part);
  }
  return damaged;
}
