// `pipeline worker --json` through the real CLI and a real redis-server: one envelope line
// once it serves (the password masked), and nothing more on stdout when it stops.
import { appendFileSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { finished, waitFor } from '../engine/helpers.js';
import { copyExampleProject } from '../example-project.js';
import { password, pipeline, RedisServer } from './helpers.js';

let redis: RedisServer;
let dir: string;

beforeAll(async () => {
  redis = await RedisServer.start();
  dir = copyExampleProject('sdloop-worker-json-');
  appendFileSync(`${dir}/pipeline.yaml`, `\nexecutor: {kind: bullmq, redis: "${redis.url}", queue_prefix: json}\n`);
});
afterAll(async () => {
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('pipeline worker --json', () => {
  it('prints what it serves on one line once connected, and nothing else on stdout', async () => {
    const child = pipeline(dir, ['worker', '--stages', 'score', '--name', 'w1', '--json']);
    let stdout = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    const done = finished(child);
    await waitFor(() => stdout.includes('\n') || child.exitCode !== null, 'the worker to start', 60_000);
    const line = stdout;
    expect(JSON.parse(line)).toEqual({ command: 'worker', ok: true, exit_code: 0, name: 'w1', stages: ['score'], redis: [`redis://:***@127.0.0.1:${redis.port}`], concurrency: 1 });
    child.kill('SIGTERM');
    const result = await done;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(line);
    expect(result.stdout + result.stderr).not.toContain(password);
  }, 90_000);
});
