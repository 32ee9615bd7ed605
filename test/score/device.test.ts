// score.device: operational (no identity changes), and a device the install cannot drive
// fails the stage before its first image, with what to install and exit code 1.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli.js';
import { makeTestContext } from '../../src/testing.js';
import { roleOf } from '../../src/stage.js';
import scoreStage from '../../stages/score/index.js';
import type { ScoreStageItem } from '../../stages/score/items.js';
import { executionOf, scoreParams, scoreStageParams } from '../../stages/score/params.js';
import { copyExampleProject } from '../example-project.js';

const item: ScoreStageItem = {
  image_id: 'a'.repeat(32), prompt_id: 'p0', status: 'ok',
  variations: { HairColor: { key: 'red', keys: ['red', 'blonde'], texts: ['red hair', 'blonde hair'] } },
};

describe('score.device', () => {
  afterEach(() => vi.restoreAllMocks());

  it('is operational: the same items have the same identities on every device', async () => {
    expect(roleOf(scoreParams.shape.device)).toBe('operational');
    const identities = async (device: string) =>
      scoreStage.identity!([item], makeTestContext({ dir: mkdtempSync(join(tmpdir(), 'sdloop-device-')), params: scoreStageParams.parse({ score: { device } }), stage: 'score' }));
    expect(await identities('cuda:1')).toEqual(await identities('cpu'));
  });

  it('sizes batches and workers for the device unless the params say', () => {
    const on = (score: Record<string, unknown>) => executionOf(scoreParams.parse(score), 8);
    expect(on({})).toMatchObject({ device: { kind: 'cpu', index: 0 }, batchSize: 32, workers: 2 });
    expect(on({ device: 'cuda:1' })).toMatchObject({ device: { kind: 'cuda', index: 1 }, batchSize: 128, workers: 7 });
    expect(on({ device: 'cuda', batch_size: 16, workers: 0 })).toMatchObject({ batchSize: 16, workers: 0 });
    expect(() => scoreParams.parse({ device: 'gpu0' })).toThrow(/expected cpu, cuda, cuda:N/);
  });

  it('fails the run before the first image when CUDA is absent, naming what to install, with no stack trace', async () => {
    const dir = copyExampleProject('sdloop-device-');
    const written: string[] = [];
    const capture = (chunk: unknown) => (written.push(String(chunk)), true);
    vi.spyOn(process.stdout, 'write').mockImplementation(capture);
    vi.spyOn(process.stderr, 'write').mockImplementation(capture);
    const code = await main(['-C', dir, '--set', 'score.device=cuda', 'run', 'score']);
    const text = written.join('');
    expect(code).toBe(1);
    expect(text).toMatch(/score: FAILED: device cuda:0 is not available/);
    expect(text).toContain('npm install-scripts approve onnxruntime-node');
    expect(text).not.toMatch(/\n\s+at .+:\d+:\d+\)?\n/);
    // Progress of the score stage stays at 0 items: the check ran before any image was read.
    expect(text).toMatch(/score: 0\/\d+ items/);
    expect(text).not.toMatch(/score: [1-9]\d*\/\d+ items|score: done/);
  }, 120_000);
});
