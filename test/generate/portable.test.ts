// A project folder moved elsewhere is the same project: every path tables, memo and
// pipeline.lock store is relative to it, so a no-op stays a no-op and commands that
// open files still find them.
import { afterEach, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { IdentityProject, itemsRun } from './identity-project.js';

let project: IdentityProject | undefined;
afterEach(() => project?.dispose());

it('after mv of the folder: status up to date, run runs 0 items, prune still finds the blank images', async () => {
  const first = IdentityProject.create({ generate: '{backend: synthetic, failure_rate: 0.3, blank_rate: 0.5}' });
  project = first;
  const ran = await first.run();
  expect(ran.code, ran.stderr).toBe(0);
  const blanks = await first.sql<{ n: number }>('SELECT count(*)::INTEGER AS n FROM quality WHERE blank');
  expect(blanks[0]!.n).toBeGreaterThan(0);
  const stored = await first.sql<{ path: string; session_dir: string }>('SELECT path, session_dir FROM images');
  for (const row of stored) expect([row.path, row.session_dir].filter((p) => p.startsWith('/'))).toEqual([]);

  const moved = first.moved();
  project = moved;
  expect(readFileSync(moved.path('pipeline.lock'), 'utf8')).not.toContain(first.dir);
  const status = await moved.status();
  expect(Object.entries(status).filter(([, s]) => !s.up_to_date).map(([name, s]) => [name, s.reasons])).toEqual([]);
  const rerun = await moved.run();
  expect(rerun.code, rerun.stderr).toBe(0);
  expect(rerun.stages.map((s) => itemsRun(rerun, s.name))).toEqual(rerun.stages.map(() => 0));
  expect(rerun.stages.every((s) => s.status === 'skipped')).toBe(true);

  const prune = await moved.pipeline(['prune', '--where', 'quality.blank']);
  expect(prune.code, prune.stderr).toBe(0);
  expect(prune.stdout).toContain(`${blanks[0]!.n} image`);
});
