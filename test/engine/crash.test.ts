// A run killed with SIGKILL mid-stage loses at most the batches in flight: the rerun
// takes over the dead run's lock, resumes from the committed batches, and ends with
// exactly the bytes an uninterrupted run writes.
import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { finished, TestProject, waitFor } from './helpers.js';

const projects: TestProject[] = [];
afterEach(() => projects.splice(0).forEach((p) => p.dispose()));

const inputs = Object.fromEntries(Array.from({ length: 24 }, (_, i) => [`f${String(i).padStart(2, '0')}.txt`, `line ${i}\n`]));
const batchOfTwo = ['--set', 'upper.batch=2'];

/** Parquet parts the map stage has written so far (each is renamed into place whole). */
function partsWritten(project: TestProject): number {
  const root = project.path('data/memo/upper');
  if (!existsSync(root)) return 0;
  return readdirSync(root).flatMap((d) => readdirSync(join(root, d))).filter((f) => f.endsWith('.upper.parquet')).length;
}

function itemCounts(stderr: string): { run: number; reused: number } {
  const match = /upper: done in [\d.]+ s: (\d+) items run, (\d+) reused/.exec(stderr);
  if (!match) throw new Error(`no item counts for upper in:\n${stderr}`);
  return { run: Number(match[1]), reused: Number(match[2]) };
}

it('resumes after SIGKILL mid-stage and writes the same bytes as an uninterrupted run', async () => {
  const killed = TestProject.create(inputs);
  const reference = TestProject.create(inputs);
  projects.push(killed, reference);

  const child = killed.spawn(['run', ...batchOfTwo], { SLOW_MS: '150' });
  const exit = finished(child);
  await waitFor(() => partsWritten(killed) >= 3, 'three committed batches');
  child.kill('SIGKILL');
  await exit;
  expect(child.signalCode).toBe('SIGKILL');
  expect(killed.read('pipeline.lock')).not.toMatch(/^ {2}upper:/m);
  const committedAtLeast = 2 * (partsWritten(killed) - 1);

  // Temporary files of a dead process are litter anywhere in data/; a live one's are still being written.
  const dead = `data/memo/.x.parquet.${child.pid}.0123abcd.tmp`;
  const live = `data/tables/.y.parquet.${process.pid}.0123abcd.tmp`;
  killed.write(dead, 'half');
  killed.write(live, 'half');
  const resumed = await killed.pipeline(['run', ...batchOfTwo]);
  expect(resumed.code, resumed.stderr).toBe(0);
  // Ours, and any the kill cut short.
  expect(resumed.stderr).toMatch(/a killed run left 1 run record open \(now marked killed\) and [1-9]\d* temporary files? \(removed\)/);
  expect(killed.exists(dead)).toBe(false);
  expect(killed.exists(live)).toBe(true);
  expect(await killed.sql('select status from runs order by started_at')).toEqual([{ status: 'killed' }, { status: 'ok' }]);
  expect(resumed.stderr).toMatch(new RegExp(`note: removed a stale lock left by pid ${child.pid} .*no longer running`));
  const { run, reused } = itemCounts(resumed.stderr);
  expect(run + reused).toBe(24);
  expect(reused).toBeGreaterThanOrEqual(committedAtLeast);
  expect(run).toBeGreaterThan(0);

  const uninterrupted = await reference.pipeline(['run', ...batchOfTwo]);
  expect(uninterrupted.code, uninterrupted.stderr).toBe(0);
  for (const output of ['files', 'upper', 'out/count.txt']) {
    const path = killed.outputPath(output);
    expect(path).toBe(reference.outputPath(output));
    expect(killed.bytes(path).equals(reference.bytes(path)), path).toBe(true);
  }
  const outs = (p: TestProject) => p.read('pipeline.lock').match(/^ {8}hash: \w+$/gm);
  expect(outs(killed)).toEqual(outs(reference));
  expect(killed.exists('data/.sdloop/run.lock')).toBe(false);
});

it('stops at the batches in flight on SIGINT, exits 130, and the rerun resumes', async () => {
  const project = TestProject.create(inputs);
  projects.push(project);
  const child = project.spawn(['run', ...batchOfTwo], { SLOW_MS: '150' });
  const exit = finished(child);
  await waitFor(() => partsWritten(project) >= 2, 'two committed batches');
  child.kill('SIGINT');
  const interrupted = await exit;
  expect(interrupted.code).toBe(130);
  expect(interrupted.stderr).toContain('interrupt: finishing the batches in flight');
  // One prefix per message, and the summary says how the run ended.
  expect(interrupted.stderr).toMatch(/^upper: interrupted; finished batches are kept$/m);
  expect(interrupted.stderr.trimEnd().split('\n').at(-1)).toMatch(/^interrupted after \d+\.\d s: /);
  expect(project.exists('data/.sdloop/run.lock')).toBe(false);
  const committed = 2 * partsWritten(project);
  const resumed = await project.pipeline(['run', ...batchOfTwo]);
  expect(resumed.code, resumed.stderr).toBe(0);
  expect(resumed.stderr).not.toContain('stale lock');
  const { run, reused } = itemCounts(resumed.stderr);
  expect(run + reused).toBe(24);
  expect(reused).toBe(committed);
  expect(run).toBeGreaterThan(0);
});

