// Output versions: each run's outputs get names of their own, the lock names the current
// ones, and the versions it no longer names are removed after the switch or by gc, so the
// disk does not fill with them.
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TestProject } from './helpers.js';

let project: TestProject;
beforeAll(async () => {
  project = TestProject.create();
  expect((await project.run()).code).toBe(0);
});
afterAll(() => project.dispose());

const upperVersions = () => readdirSync(project.path('data/tables')).filter((f) => /^upper-[0-9a-f]{16}\.parquet$/.test(f));

it('names a table by its identity, and a rerun with other params leaves only the version the lock names', async () => {
  const first = project.outputPath('upper');
  expect(first).toMatch(/^data\/tables\/upper-[0-9a-f]{16}\.parquet$/);
  expect((await project.run(['--set', 'upper.suffix="?"'])).code).toBe(0);
  const second = project.outputPath('upper');
  expect(second).not.toBe(first);
  expect(upperVersions()).toEqual([second.split('/').pop()]);
  expect((await project.run()).code).toBe(0);
  expect(project.outputPath('upper')).toBe(first);
  expect(upperVersions()).toEqual([first.split('/').pop()]);
});

it('gc lists a version a killed run left and --apply removes it, keeping the current one', async () => {
  const current = project.outputPath('upper');
  const stray = 'data/tables/upper-0123456789abcdef.parquet';
  project.write(stray, project.read(current));
  const listing = await project.pipeline(['gc']);
  expect(listing.stdout).toMatch(/1 old output version/);
  expect(project.exists(stray)).toBe(true);
  const applied = await project.pipeline(['gc', '--apply', '--json']);
  expect(JSON.parse(applied.stdout)).toMatchObject({ versions: 1, applied: true });
  expect(project.exists(stray)).toBe(false);
  expect(project.exists(current)).toBe(true);
  expect(Object.values(await project.status()).every((s) => s.up_to_date)).toBe(true);
});
