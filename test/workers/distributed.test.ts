// The score stage of the example project run by two `pipeline worker` processes through a
// real redis-server: its tables are the very tables a local run makes, also when one
// worker is SIGKILLed mid-run or refuses (other params) beside a matching one; `pipeline
// status` shows the workers during the run; the password never shows.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { appendFileSync, rmSync } from 'node:fs';
import { finished, waitFor } from '../engine/helpers.js';
import { catalogedProject, cloneProject, outputHashes, password, pipeline, RedisServer, startWorker, stopWorkers, type WorkerProcess } from './helpers.js';

let redis: RedisServer;
let cataloged: string;
let localHashes: Record<string, string>;
const dirs: string[] = [];

/** A copy of the cataloged project whose map stages run on workers, by default with short locks so a killed worker's batch moves on quickly. */
function distributedProject(prefix: string, locks = 'lock_ms: 3000, stalled_check_ms: 1000'): string {
  const dir = cloneProject(cataloged);
  dirs.push(dir);
  appendFileSync(`${dir}/pipeline.yaml`, `\nexecutor: {kind: bullmq, redis: "${redis.url}", queue_prefix: ${prefix}, ${locks}}\n`);
  return dir;
}

async function runScore(dir: string) {
  const child = pipeline(dir, ['run', 'score']);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return { child, stderr: () => stderr, result: finished(child) };
}

interface ShownWorker {
  name: string;
  batches: number;
  last_seen: string;
}

/**
 * `pipeline status` (JSON and text) until it shows both workers, one with a batch done,
 * while the stage runs. The run and its workers are stopped (SIGSTOP) while status
 * reads, so the stage cannot end in between; status reads the run's progress file.
 */
async function workersInStatus(dir: string, run: ChildProcess, workers: WorkerProcess[]): Promise<{ json: ShownWorker[]; text: string }> {
  const all = [run, ...workers.map((w) => w.child)];
  for (;;) {
    if (run.exitCode !== null) throw new Error('the run ended before status showed its workers');
    for (const child of all) child.kill('SIGSTOP');
    try {
      const status = await finished(pipeline(dir, ['status', '--json']));
      const stages = (JSON.parse(status.stdout) as { stages?: { name: string; state?: string; workers?: ShownWorker[] }[] }).stages ?? [];
      const score = stages.find((s) => s.name === 'score');
      const json = score?.workers ?? [];
      if (score?.state === 'running' && json.length === 2 && json.some((w) => w.batches > 0)) return { json, text: (await finished(pipeline(dir, ['status']))).stdout };
    } finally {
      for (const child of all) child.kill('SIGCONT');
    }
    await new Promise((r) => setTimeout(r, 300));
  }
}

beforeAll(async () => {
  redis = await RedisServer.start();
  cataloged = catalogedProject();
  const local = cloneProject(cataloged);
  dirs.push(cataloged, local);
  const result = await finished(pipeline(local, ['run', 'score']));
  expect(result.code, result.stderr).toBe(0);
  localHashes = outputHashes(local, 'score');
});

afterAll(async () => {
  await redis?.stop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('score on BullMQ workers', () => {
  it('two workers make the tables a local run makes, status shows them during the run, and the password is never printed', async () => {
    // Locks longer than the moments status stops the workers for.
    const dir = distributedProject('two', 'lock_ms: 30000, stalled_check_ms: 30000');
    const workers = [await startWorker(dir, ['--name', 'w1']), await startWorker(dir, ['--name', 'w2', '--concurrency', '2'])];
    const run = await runScore(dir);
    const seen = await workersInStatus(dir, run.child, workers);
    const result = await run.result;
    await stopWorkers(workers);
    expect(result.code, result.stderr).toBe(0);
    expect(outputHashes(dir, 'score')).toEqual(localHashes);
    // Read while the run held the project, from the run's progress file.
    expect(seen.json.map((w) => w.name).sort()).toEqual(['w1', 'w2']);
    expect(seen.json.some((w) => w.batches > 0)).toBe(true);
    for (const w of seen.json) expect(Date.parse(w.last_seen)).toBeGreaterThan(0);
    expect(seen.text).toMatch(/^score: running for .*\n  worker w\d: \d+ batch(es)? \(\d+ items.*seen \d+ s ago\)$/m);
    expect(result.stderr).toMatch(/score: workers: w\d: \d+ batch(es)?/);
    expect(result.stderr).toMatch(/workers: w\d: \d+ batch(es)?/);
    const printed = [result.stdout, result.stderr, ...workers.map((w) => w.output())].join('\n');
    expect(printed).toContain(`redis://:***@127.0.0.1:${redis.port}`);
    expect(printed).not.toContain(password);
    // The coordinator ran no scorer itself: only the workers loaded the model.
    expect(result.stderr).not.toContain('scoring with');
    for (const w of workers) expect(w.output()).toContain('scoring with');
  });

  it('a worker SIGKILLed mid-run: its batch goes to the other, and the tables are the same', async () => {
    const dir = distributedProject('killed');
    const doomed = await startWorker(dir, ['--name', 'doomed', '--concurrency', '2']);
    const run = await runScore(dir);
    // It has taken batches once it loads the model; kill it before it can finish them.
    await waitFor(() => doomed.output().includes('scoring with'), 'the first worker to take a batch', 60_000);
    doomed.child.kill('SIGKILL');
    const survivor: WorkerProcess = await startWorker(dir, ['--name', 'survivor']);
    const result = await run.result;
    await stopWorkers([survivor]);
    expect(result.code, result.stderr + survivor.output() + doomed.output()).toBe(0);
    expect(outputHashes(dir, 'score')).toEqual(localHashes);
    expect(result.stderr).toContain('survivor:');
  });

  it('a worker whose params differ hands its batches back to a matching one: the run succeeds, naming the refusal', async () => {
    const dir = distributedProject('handback');
    const stale = await startWorker(dir, ['--name', 'stale', '-S', 'score.thresholds.success=0.99']);
    const good = await startWorker(dir, ['--name', 'good']);
    const result = await (await runScore(dir)).result;
    await stopWorkers([stale, good]);
    expect(result.code, result.stderr + stale.output() + good.output()).toBe(0);
    expect(outputHashes(dir, 'score')).toEqual(localHashes);
    expect(result.stderr).toMatch(/worker stale refuses this run's batches \(its stage params differ from the run's/);
    expect(result.stderr).toMatch(/workers: good: \d+ batch(es)?/);
    expect(stale.output()).toContain('refusing a batch of score');
  });

  it('a worker whose params differ, alone: the run fails naming it and why', async () => {
    const dir = distributedProject('refused');
    const stale = await startWorker(dir, ['--name', 'stale', '-S', 'score.thresholds.success=0.99']);
    const result = await finished(pipeline(dir, ['run', 'score']));
    await stopWorkers([stale]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/no worker connected takes its batches: worker stale refuses: its stage params differ from the run's/);
    expect(stale.output()).toContain('refusing a batch of score');
  });
});
