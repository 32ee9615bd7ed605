// One `pipeline run` per project: a second one is refused with a message that says who
// holds the project, and a lock left by a dead process is taken over with a note.
import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { finished, TestProject, waitFor } from './helpers.js';

let project: TestProject;
beforeEach(() => {
  project = TestProject.create(Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`f${i}.txt`, `${i}\n`])));
});
afterEach(() => project.dispose());

/** A run that holds the project for a few seconds (one slow batch per item). */
async function holdingRun() {
  const child = project.spawn(['run', '--set', 'upper.batch=1'], { SLOW_MS: '400' });
  const exit = finished(child);
  await waitFor(() => project.exists('data/.sdloop/run.lock'), 'the first run to take the lock');
  return { child, exit };
}

it('refuses a second run while one is running: exit 1 and a clear message', async () => {
  const first = await holdingRun();
  const second = await project.pipeline(['run']);
  expect(second.code).toBe(1);
  expect(second.stderr).toMatch(/^error: .*another pipeline/);
  expect((await first.exit).code).toBe(0);
});

it('the refusal names the run holding the project (pid and command), not just a busy database', async () => {
  const first = await holdingRun();
  const second = await project.pipeline(['run']);
  expect(second.code).toBe(1);
  expect(second.stderr).toContain(`another pipeline is running in this project (pid ${first.child.pid}`);
  await first.exit;
});

it('status during a run tells what the run is doing instead of failing on the busy database', async () => {
  const first = await holdingRun();
  await waitFor(() => project.exists('data/.sdloop/progress.json') && project.read('data/.sdloop/progress.json').includes('"total": 8'), 'the run to reach the map stage');
  const status = await project.pipeline(['status']);
  expect(status.code, status.stderr).toBe(0);
  expect(status.stdout).toContain(`a run is in progress (pid ${first.child.pid} on ${hostname()}`);
  expect(status.stdout).toMatch(/^files: done$/m);
  expect(status.stdout).toMatch(/^upper: running for \d+ s \d\/8 items/m);
  const json = await project.pipeline(['status', '--json']);
  const parsed = JSON.parse(json.stdout) as { running: { pid: number }; stages: { name: string; state: string; total?: number }[] };
  expect(parsed.running.pid).toBe(first.child.pid);
  expect(parsed.stages.find((s) => s.name === 'upper')).toMatchObject({ state: 'running', total: 8 });
  expect((await first.exit).code).toBe(0);
  expect(project.exists('data/.sdloop/progress.json')).toBe(false);
  expect((await project.pipeline(['status', '--set', 'upper.batch=1'])).stdout).toMatch(/^upper: up to date$/m);
});

it('takes over a stale lock left by a dead process, with a note', async () => {
  const dead = spawnSync(process.execPath, ['-e', '']).pid;
  project.write('data/.sdloop/run.lock', JSON.stringify({ pid: dead, host: hostname(), started_at: '2020-01-01T00:00:00.000Z', command: 'run' }));
  const result = await project.pipeline(['run']);
  expect(result.code, result.stderr).toBe(0);
  expect(result.stderr).toContain(`note: removed a stale lock left by pid ${dead} (started 2020-01-01T00:00:00.000Z), which is no longer running`);
  expect(project.exists('data/.sdloop/run.lock')).toBe(false);
});

it('refuses a lock held by a live process on another host', async () => {
  project.write('data/.sdloop/run.lock', JSON.stringify({ pid: process.pid, host: 'elsewhere', started_at: '2020-01-01T00:00:00.000Z', command: 'run --force' }));
  const result = await project.pipeline(['run']);
  expect(result.code).toBe(1);
  expect(result.stderr).toContain(`error: another pipeline is running in this project (pid ${process.pid} on elsewhere, since 2020-01-01T00:00:00.000Z: run --force)`);
});
