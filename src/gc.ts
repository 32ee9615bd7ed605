// Delete what no current output refers to: memo rows and parts of old params or code,
// and stored objects no table mentions. Never touches tables, sessions or user files.
import { readdir, rm, rmdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { glob } from './glob.js';
import { sqlString } from './tables.js';
import type { ProjectSession } from './session.js';

export async function collectGarbage(session: ProjectSession): Promise<string> {
  const { project, state } = session;
  const lock = session.runner.currentMemoKeys();
  await state.transaction(async (c) => {
    await c.run('CREATE OR REPLACE TEMP TABLE keep_memo (stage VARCHAR, fp VARCHAR)');
    for (const [stage, fp] of Object.entries(lock)) await c.run('INSERT INTO keep_memo VALUES ($stage, $fp)', { stage, fp });
    await c.run('DELETE FROM memo WHERE (stage, fp) NOT IN (SELECT (stage, fp) FROM keep_memo)');
  });
  const referencedParts = new Set((await state.query<{ part: string }>('SELECT DISTINCT part FROM memo')).map((r) => r.part));
  const partFiles = await glob('**/*.parquet', { cwd: project.paths.memo, absolute: true }).catch(() => []);
  let partsRemoved = 0;
  for (const file of partFiles) {
    const part = relative(project.dir, file).replace(/\.[^.]+\.parquet$/, '');
    if (!referencedParts.has(part)) {
      await rm(file, { force: true });
      partsRemoved++;
    }
  }
  const objectFiles = await glob('*/*', { cwd: project.paths.objects, absolute: true }).catch(() => [] as string[]);
  const referenced = new Set<string>();
  for (const out of Object.values(session.runner.currentOutputs())) {
    if (out.kind !== 'table') continue;
    const source = `read_parquet(${sqlString(join(project.dir, out.path))})`;
    const cols = await state.query<{ column_name: string; column_type: string }>(`DESCRIBE SELECT * FROM ${source}`);
    for (const col of cols.filter((c) => c.column_type === 'VARCHAR')) {
      const rows = await state.query<{ v: string }>(`SELECT DISTINCT "${col.column_name}" AS v FROM ${source} WHERE "${col.column_name}" LIKE '%objects/%'`);
      for (const r of rows) referenced.add(r.v.split('/').pop()!);
    }
  }
  let objectsRemoved = 0;
  for (const file of objectFiles) {
    if (!referenced.has(file.split('/').pop()!)) {
      await rm(file, { force: true });
      objectsRemoved++;
    }
  }
  for (const dir of await readdir(project.paths.objects).catch(() => [] as string[])) {
    await rmdir(join(project.paths.objects, dir)).catch(() => undefined);
  }
  return `gc: removed ${partsRemoved} memo parts and ${objectsRemoved} objects nothing refers to\n`;
}
