// The order the engine calls a map stage's hooks in, through the real CLI: setup once,
// each group of finished batches made durable (beforeCommit) before it is committed,
// release after the last batch and before the outputs are assembled (finish gets them),
// teardown last.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { TestProject } from './helpers.js';

const project = TestProject.create(Object.fromEntries(Array.from({ length: 25 }, (_, i) => [`f${i}.txt`, `text ${i}\n`])));
afterAll(() => project.dispose());

it('sets up, makes batches durable before committing them, releases before assembly, then finishes and tears down', async () => {
  const log = join(project.dir, 'lifecycle.log');
  const run = await project.pipeline(['run', '--set', 'upper.batch=5'], { LIFECYCLE_LOG: log });
  expect(run.code).toBe(0);
  const steps = readFileSync(log, 'utf8').trim().split('\n');
  expect(steps[0]).toBe('setup');
  expect(steps.filter((s) => s === 'batch')).toHaveLength(5);
  const durable = steps.filter((s) => s === 'beforeCommit').length;
  expect(durable).toBeGreaterThan(0);
  expect(durable).toBeLessThanOrEqual(5);
  expect(steps.slice(-3)).toEqual(['release', 'finish with the assembled table', 'teardown']);
  expect(steps.lastIndexOf('batch')).toBeLessThan(steps.indexOf('release'));
});
