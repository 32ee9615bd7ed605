// `pipeline sql` runs one read-only query in a sandbox: every escape a user (or a pasted
// query) might try is refused with exit 2 before it runs, and leaves every file as it was.
// `--write` is the deliberate way to change the state, and readers see what it changed.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestProject } from './helpers.js';

let project: TestProject;
beforeAll(async () => {
  project = TestProject.create();
  const first = await project.run();
  expect(first.code, first.stderr).toBe(0);
}, 60_000);
afterAll(() => project.dispose());

/** Every file of the project with its content hash: what "nothing changed" is checked against. */
function tree(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (at: string) => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const path = join(at, entry.name);
      if (entry.name === 'node_modules') continue;
      if (entry.isDirectory()) walk(path);
      else files[relative(dir, path)] = `${statSync(path).mtimeMs}:${createHash('sha256').update(readFileSync(path)).digest('hex')}`;
    }
  };
  walk(dir);
  return files;
}

describe('pipeline sql: the sandbox', () => {
  // Paths are absolute: DuckDB resolves relative ones against the process's folder, not the project.
  const escapes: [what: string, query: (dir: string) => string, message: RegExp][] = [
    ['a second statement', () => 'SELECT 1; DROP TABLE stage_runs', /expected one statement, got 2/],
    ['a DROP', () => 'DROP VIEW stage_runs', /expected a query \(SELECT\), got a DROP statement/],
    ['COPY over pipeline.lock', (dir) => `COPY (SELECT 1) TO '${dir}/pipeline.lock'`, /Cannot access file ".*pipeline\.lock"/],
    ['COPY into the tables folder', (dir) => `COPY (SELECT 1) TO '${dir}/data/tables/x.parquet'`, /got a COPY statement/],
    ['COPY to any path', () => "COPY (SELECT 1) TO '/tmp/sdloop-escape.csv'", /Cannot access file/],
    ['ATTACH', (dir) => `ATTACH '${dir}/data/state.duckdb' AS live`, /got an ATTACH statement/],
    ['read_csv of a system file', () => "SELECT * FROM read_csv('/etc/passwd')", /Cannot access file "\/etc\/passwd"/],
    ['read_text of the lock', (dir) => `SELECT * FROM read_text('${dir}/pipeline.lock')`, /Cannot access file/],
    ['INSTALL', () => 'INSTALL httpfs', /got an INSTALL statement/],
    ['LOAD', () => 'LOAD httpfs', /got a LOAD statement/],
    ['SET', () => 'SET enable_external_access = true', /got a SET statement/],
    ['a path climbing out of the tables folder', (dir) => `SELECT * FROM read_text('${dir}/data/tables/../../pipeline.yaml')`, /Cannot access file/],
  ];

  it.each(escapes)('refuses %s with exit 2 and changes nothing', async (_what, query, message) => {
    const before = tree(project.dir);
    const result = await project.pipeline(['sql', query(project.dir)]);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toMatch(/^error: query: SQL: /);
    expect(result.stderr).toMatch(message);
    expect(tree(project.dir)).toEqual(before);
  });

  it('reads the project files it may: the tables folder', async () => {
    const [{ n }] = await project.sql<{ n: number }>(`select count(*)::INTEGER as n from read_parquet('${project.dir}/data/tables/*.parquet', union_by_name = true)`);
    expect(n).toBeGreaterThan(0);
  });

  it('still answers queries over the tables, the state records and the files it may read', async () => {
    expect(await project.sql('select count(*)::INTEGER as n from upper')).toEqual([{ n: 2 }]);
    const stages = await project.sql<{ stage: string; status: string }>('select stage, status from stage_runs order by stage');
    expect(stages).toEqual([{ stage: 'count', status: 'ok' }, { stage: 'files', status: 'ok' }, { stage: 'upper', status: 'ok' }]);
    expect(await project.sql("select status from runs")).toEqual([{ status: 'ok' }]);
    expect(await project.sql('with t as (select 1 as x) from t')).toEqual([{ x: 1 }]);
  });

  it('--write changes the state itself, with a warning, and readers see the change', async () => {
    const write = await project.pipeline(['sql', '--write', "create table notes as select 'kept' as note"]);
    expect(write.code, write.stderr).toBe(0);
    expect(write.stderr).toMatch(/^warning: --write runs the SQL on the state database itself, with no sandbox/);
    expect(await project.sql('select note from notes')).toEqual([{ note: 'kept' }]);
    const drop = await project.pipeline(['sql', '--write', 'drop table notes']);
    expect(drop.code, drop.stderr).toBe(0);
    expect((await project.pipeline(['sql', 'select * from notes'])).code).toBe(2);
  });
});
