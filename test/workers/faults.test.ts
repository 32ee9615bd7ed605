// Faults of a distributed map stage, on the engine's test project (its `upper` map stage
// is instant unless SLOW_MS slows it): a batch failing on every try records its items as
// failed and the rest finish; a Redis restarted mid-run (forgetting every job) is waited
// for and the run resumes; a Redis that stays away fails the run clearly, keeping what
// was committed; Ctrl-C on the coordinator takes its waiting jobs off the queue; a worker
// whose Redis is gone still stops on SIGTERM, within its bound.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { finished, TestProject, waitFor } from '../engine/helpers.js';
import { password, RedisServer } from './helpers.js';

let redis: RedisServer;
const projects: TestProject[] = [];

function distributed(prefix: string, files: Record<string, string>, executor = ''): TestProject {
  const project = TestProject.create(files);
  projects.push(project);
  project.write('pipeline.yaml', `${project.read('pipeline.yaml')}
executor: {kind: bullmq, redis: "${redis.url}", queue_prefix: ${prefix}, attempts: 2, lock_ms: 2000, stalled_check_ms: 500${executor}}
`);
  return project;
}

const files = (n: number, text = (i: number) => `file ${i}\n`) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`f${String(i).padStart(2, '0')}.txt`, text(i)]));

async function worker(project: TestProject, env: Record<string, string> = {}) {
  const child = project.spawn(['worker', '--name', 'w'], env);
  let output = '';
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const done = finished(child);
  await waitFor(() => output.includes('serving'), 'the worker to start', 60_000);
  return { child, done, output: () => output, stop: () => (child.kill('SIGTERM'), done) };
}

function running(project: TestProject, args: string[] = [], env: Record<string, string> = {}) {
  const child = project.spawn(['run', '--json', 'upper', ...args], env);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return { child, stderr: () => stderr, result: finished(child) };
}

beforeAll(async () => {
  redis = await RedisServer.start();
});

afterAll(async () => {
  await redis?.stop();
  for (const p of projects) p.dispose();
});

describe('faults of a distributed map stage', () => {
  it('a batch failing on every try: its items are recorded as failed with the error, the rest finish', async () => {
    const project = distributed('failing', files(6, (i) => (i === 4 ? 'THROW me\n' : `file ${i}\n`)));
    project.write('pipeline.yaml', project.read('pipeline.yaml').replace('batch: 10', 'batch: 2'));
    const w = await worker(project, { THROW_ITEMS: '1' });
    const result = await finished(project.spawn(['run', '--json', 'upper']));
    await w.stop();
    type Summary = { stages: { name: string; items?: { done: number; failed: number }; failures?: { error: string; items: string[] }[] }[] };
    const upper = (JSON.parse(result.stdout) as Summary).stages.find((s) => s.name === 'upper')!;
    expect(upper.items).toMatchObject({ done: 6, failed: 2 });
    expect(upper.failures).toEqual([{ error: 'failed 2 times on the workers: batch exploded on purpose', count: 2, items: ['in/f04.txt', 'in/f05.txt'] }]);
  });

  it('Redis restarted mid-run: the run waits, queues the lost batches again and finishes', async () => {
    const project = distributed('restart', files(12));
    project.write('pipeline.yaml', project.read('pipeline.yaml').replace('batch: 10', 'batch: 1'));
    const w = await worker(project, { SLOW_MS: '400' });
    const run = running(project);
    await waitFor(() => /upper: [1-9]\/12/.test(run.stderr()), 'a first batch to commit', 60_000);
    await redis.stop();
    await new Promise((r) => setTimeout(r, 1500));
    await redis.restart();
    const result = await run.result;
    await w.stop();
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain(`Redis at redis://:***@127.0.0.1:${redis.port} does not answer`);
    expect(result.stderr).toContain('answers again; resuming');
    expect(result.stderr + w.output()).not.toContain(password);
    const rows = await project.sql<{ n: number }>('select count(*)::INTEGER as n from upper');
    expect(rows[0]!.n).toBe(12);
  });

  it('Redis gone for longer than redis_timeout_s: the run fails saying so, and a rerun keeps every committed batch', async () => {
    const project = distributed('timeout', files(12), ', redis_timeout_s: 2');
    project.write('pipeline.yaml', project.read('pipeline.yaml').replace('batch: 10', 'batch: 1'));
    const w = await worker(project, { SLOW_MS: '400' });
    const run = running(project);
    await waitFor(() => /upper: [1-9]\/12/.test(run.stderr()), 'a first batch to commit', 60_000);
    await redis.stop();
    const result = await run.result;
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/did not answer for 2 s while .*the batches committed so far are kept/);
    await redis.restart();
    const rerun = await finished(project.spawn(['run', '--json', 'upper']));
    await w.stop();
    const summary = JSON.parse(rerun.stdout) as { stages: { name: string; items?: { done: number; reused: number } }[] };
    expect(summary.stages.find((s) => s.name === 'upper')!.items!.reused).toBeGreaterThan(0);
  });

  it('Ctrl-C on the coordinator takes its waiting batches off the queue', async () => {
    const project = distributed('interrupted', files(8));
    const run = running(project);
    const queue = new Queue('upper', { connection: { host: '127.0.0.1', port: redis.port, password }, prefix: 'interrupted' });
    await waitFor(() => run.stderr().includes('upper: running'), 'the run to start', 60_000);
    // No worker is running: the batch waits on the queue until the interrupt.
    const deadline = Date.now() + 30_000;
    while ((await queue.getWaitingCount()) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(await queue.getWaitingCount()).toBeGreaterThan(0);
    run.child.kill('SIGINT');
    const result = await run.result;
    expect(result.code).toBe(130);
    expect(await queue.getWaitingCount()).toBe(0);
    await queue.close();
  });

  it('a worker with a batch in hand whose Redis is gone stops on SIGTERM within its bound, saying it let go by force', async () => {
    const project = distributed('shutdown', files(1));
    const w = await worker(project, { SLOW_MS: '60000' });
    const run = running(project);
    const queue = new Queue('upper', { connection: { host: '127.0.0.1', port: redis.port, password }, prefix: 'shutdown' });
    const deadline = Date.now() + 60_000;
    while ((await queue.getActiveCount()) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(await queue.getActiveCount()).toBe(1);
    await queue.close();
    await redis.stop();
    try {
      w.child.kill('SIGTERM');
      // 10 s to finish the batch in hand and close, then a second to drop the connections and end.
      const bound = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`the worker still runs 20 s after SIGTERM:\n${w.output()}`)), 20_000));
      const result = await Promise.race([w.done, bound]);
      expect(result.code, w.output()).toBe(1);
      expect(w.output()).toContain('worker stopped by force: the batches in hand or Redis did not let go within 10 s');
    } finally {
      run.child.kill('SIGKILL');
      await run.result;
      await redis.restart();
    }
  });
});
