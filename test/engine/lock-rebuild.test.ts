// pipeline.lock and its copy both lost or damaged: the state's records of each stage's
// last committed run stand in, so status stays true, nothing runs again, and the next
// run writes the lock out as it was.
import { afterEach, beforeEach, expect, it } from 'vitest';
import { TestProject } from './helpers.js';

let project: TestProject;
let lockText: string;
beforeEach(async () => {
  project = TestProject.create();
  const first = await project.run();
  expect(first.code, first.stderr).toBe(0);
  lockText = project.read('pipeline.lock');
});
afterEach(() => project.dispose());

const copy = 'data/.sdloop/lock.json';

it.each([
  ['deleted', () => project.remove('pipeline.lock'), 'pipeline.lock is missing'],
  ['not YAML', () => project.write('pipeline.lock', `${lockText.slice(0, 120)}\n  : [unclosed\n`), 'pipeline.lock: not valid YAML'],
])('a lock %s with its copy gone is rebuilt from the state: status up to date, nothing reruns', async (_what, damage, warning) => {
  damage();
  project.remove(copy);
  const status = await project.pipeline(['status']);
  expect(status.code, status.stderr).toBe(0);
  expect(status.stderr).toContain(warning);
  expect(status.stderr).toContain("using the state's records of each stage's last committed run");
  expect(status.stdout).not.toMatch(/stale|never run/);
  expect(Object.values(await project.status()).every((s) => s.up_to_date)).toBe(true);
  const rerun = await project.run();
  expect(rerun.code, rerun.stderr).toBe(0);
  expect(rerun.stages.map((s) => s.status)).toEqual(['skipped', 'skipped', 'skipped']);
  expect(project.read('pipeline.lock')).toBe(lockText);
  expect(project.exists(copy)).toBe(true);
  const after = await project.pipeline(['status']);
  expect(after.stderr).not.toContain('pipeline.lock');
}, 120_000);

it('a deleted lock with its copy in place is read from the copy', async () => {
  project.remove('pipeline.lock');
  const status = await project.pipeline(['status']);
  expect(status.stderr).toContain(`pipeline.lock is missing; using its copy ${copy}`);
  expect(Object.values(await project.status()).every((s) => s.up_to_date)).toBe(true);
}, 120_000);

it('with no record anywhere every stage runs again', async () => {
  project.remove('pipeline.lock');
  project.remove(copy);
  project.remove('data/state.duckdb');
  const statuses = await project.status();
  expect(Object.values(statuses).map((s) => s.reasons)).toEqual([['never run'], ['upstream files will run first'], ['never run']]);
}, 120_000);

it('a reader (sql) with the lock and its copy gone reads the lock from the state snapshot and sees the same tables', async () => {
  const query = ['sql', '--format', 'csv', 'select path, text from upper order by path'];
  const before = await project.pipeline(query);
  expect(before.code, before.stderr).toBe(0);
  project.remove('pipeline.lock');
  project.remove(copy);
  const after = await project.pipeline(query);
  expect(after.code, after.stderr).toBe(0);
  expect(after.stdout).toBe(before.stdout);
  expect(after.stderr).toContain("pipeline.lock is missing; using the state's records of each stage's last committed run");
  const internal = await project.pipeline(['sql', 'select * from lock_entries']);
  expect(internal.code).toBe(2);
}, 120_000);
