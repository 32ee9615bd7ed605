// loop.promote merge: the winner folded into a new checkpoint by sd-scripts' merge script
// (the stand-in under test/standins/networks does the real arithmetic on a small file).
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { CommandContext, RunOptions, RunSummary } from '../../src/command.js';
import type { Sql } from '../../src/stage.js';
import { createBackend, generateParams } from '../../stages/generate/backend.js';
import { readMerged, readPromoted, withMerged, withPromoted } from '../../stages/generate/promoted.js';
import { benchmarkPrompts, benchmarkSettings } from '../../stages/benchmark/plan.js';
import { startA1111StandIn } from '../standins/a1111-server.js';
import { loadSyntheticCheckpoint } from '../../demo/synthetic-lora.js';
import { readF32Tensor, readSafetensorsHeader, writeSafetensors } from '../../adapters/safetensors.js';
import { buildMergeArgv, parseMergeLog } from '../../adapters/sd-scripts-merge.js';
import { writeSimulatedLora } from '../../demo/simulated-trainer.js';
import { sqlLiteral, loopRounds, mergedCheckpoints, promotedLoras } from '../../commands/loop-state.js';
import { runRounds } from '../../commands/loop.js';
import { freshDir, standinDir } from '../train/fixtures.js';

const closers: (() => void)[] = [];
const savedMode = process.env.SDLOOP_STANDIN_MODE;
afterEach(() => {
  closers.splice(0).forEach((c) => c());
  process.env.SDLOOP_STANDIN_MODE = savedMode ?? '';
});

const module = 'lora_unet_mid_block_attentions_0_proj_out';
const train = { trainer: 'sd-scripts', sd_scripts_dir: standinDir, launcher: 'python3', base_model: 'base.safetensors' };

/** A base checkpoint whose tensors carry the LoRA module names, as the stand-in expects. */
async function writeBase(dir: string): Promise<void> {
  const data = Float32Array.from({ length: 64 }, (_, i) => (i % 9 === 0 ? 1 : 0));
  await writeSafetensors(join(dir, 'base.safetensors'), { [`${module}.weight`]: { dtype: 'F32', shape: [8, 8], data } }, {});
}

/** A loop over a real DuckDB whose `run` plays train and benchmark: one real LoRA per round, always a winner at weight 0.5. */
async function mergeContext(params: Record<string, unknown>, onRun: (options: RunOptions, sql: Sql) => Promise<void> = async () => {}) {
  const dir = freshDir('loop-merge');
  await writeBase(dir);
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const connection: DuckDBConnection = await (await DuckDBInstance.create(':memory:')).connect();
  closers.push(() => connection.closeSync());
  const sql = async <T,>(query: string, values?: Record<string, unknown>) => (await connection.runAndReadAll(query, values as never)).getRowObjectsJson() as T[];
  const out: string[] = [];
  let n = 0;
  const ctx: CommandContext = {
    projectDir: dir, dataDir: join(dir, 'data'), params, sql, tables: async () => ({}),
    async run(options): Promise<RunSummary> {
      await onRun(options, sql);
      const name = `sdloop-r${++n}`;
      const path = join(dir, 'data', 'objects', `${name}.safetensors`);
      mkdirSync(join(dir, 'data', 'objects'), { recursive: true });
      await writeSimulatedLora(path, { name, subsets: [{ dir: '2_x', repeats: 2, images: ['a.png'], tags: { x: 1 } }], datasetHash: `ab${n}`, dim: 4, alpha: 2, learningRate: 1e-4, steps: 2, epochs: 1, baseModel: 'base', resolution: 512 });
      await sql(`CREATE OR REPLACE TABLE lora_info AS SELECT ${sqlLiteral(name)} AS name, 'h${n}' AS hash, ${sqlLiteral(path)} AS path`);
      await sql(`CREATE OR REPLACE TABLE benchmark_summary AS SELECT ${sqlLiteral(name)} AS lora, 0.5 AS weight, 0.5 AS baseline_adherence, 0.6 AS candidate_adherence, 'promote' AS verdict, 'won' AS reason`);
      return { ok: true, exitCode: 0, durationMs: 0, stages: [] };
    },
    stdout: (t) => out.push(t), stderr: (t) => out.push(t),
  };
  return { ctx, dir, out };
}

/** IEEE half floats, as the stand-in writes with --save_precision fp16. */
function f16(path: string, name: string): number[] {
  const bytes = readFileSync(path);
  const n = Number(bytes.readBigUInt64LE(0));
  const entry = JSON.parse(bytes.subarray(8, 8 + n).toString())[name];
  const [begin, end] = entry.data_offsets as [number, number];
  const out: number[] = [];
  for (let at = 8 + n + begin; at < 8 + n + end; at += 2) {
    const h = bytes.readUInt16LE(at);
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    const sign = h & 0x8000 ? -1 : 1;
    out.push(exp === 0 ? sign * 2 ** -14 * (frac / 1024) : sign * 2 ** (exp - 15) * (1 + frac / 1024));
  }
  return out;
}

/** W + ratio x (up @ down) x alpha / dim, worked out here from the LoRA's own tensors. */
async function expectedWeight(base: number[], lora: string, ratio: number): Promise<number[]> {
  const down = await readF32Tensor(lora, `${module}.lora_down.weight`);
  const up = await readF32Tensor(lora, `${module}.lora_up.weight`);
  const [alpha] = await readF32Tensor(lora, `${module}.alpha`);
  const dim = 4;
  return base.map((w, k) => {
    const [o, i] = [Math.floor(k / 8), k % 8];
    let sum = 0;
    for (let r = 0; r < dim; r++) sum += up[o * dim + r]! * down[r * 8 + i]!;
    return w + ratio * (alpha! / dim) * sum;
  });
}

describe('merge argv and log', () => {
  it('passes the real flags: --sd_model, --save_to, --save_precision, --models ... --ratios ...', () => {
    const argv = buildMergeArgv({ sdScriptsDir: '/sd', launcher: '/venv/bin/python', sdxl: true, sdModel: '/m/base.safetensors', saveTo: '/m/out.safetensors', loras: [{ path: '/l/a.safetensors', ratio: 0.5 }, { path: '/l/b.safetensors', ratio: 1 }], savePrecision: 'fp16' });
    expect(argv).toEqual({ command: '/venv/bin/python', args: ['/sd/networks/sdxl_merge_lora.py', '--sd_model=/m/base.safetensors', '--save_to=/m/out.safetensors', '--save_precision=fp16', '--models', '/l/a.safetensors', '/l/b.safetensors', '--ratios', '0.5', '1'] });
    expect(parseMergeLog('2026-01-01 INFO     loading SD model: /m/base.safetensors      merge_lora.py:270\nINFO     loading: /l/a.safetensors   merge_lora.py:41\nINFO     merging...\nINFO     saving SD model to: /m/out.safetensors'))
      .toEqual({ base: '/m/base.safetensors', loaded: ['/l/a.safetensors'], merging: 1, savedTo: '/m/out.safetensors' });
  });
});

describe('pipeline loop with loop.promote merge', () => {
  it('folds each winner into a new checkpoint, the second onto the first, and stacks no LoRA', async () => {
    const { ctx, dir } = await mergeContext({ train, loop: { promote: 'merge' } });
    expect(await runRounds(ctx, { rounds: 2, untilNoGain: false, targeted: false })).toBe(0);
    const merged = await mergedCheckpoints(ctx.sql);
    expect(merged.map((m) => [m.name, m.base, m.lora, m.ratio, m.round])).toEqual([
      ['sdloop-r1-merged', 'base.safetensors', 'sdloop-r1', 0.5, 1],
      ['sdloop-r2-merged', 'data/models/checkpoints/sdloop-r1-merged.safetensors', 'sdloop-r2', 0.5, 2],
    ]);
    expect(await promotedLoras(ctx.sql)).toEqual([]);
    expect((await loopRounds(ctx.sql))[0]!.reason).toBe('won; merged into data/models/checkpoints/sdloop-r1-merged.safetensors');
    const first = join(dir, merged[0]!.path);
    const { metadata, tensors } = await readSafetensorsHeader(first);
    expect(tensors[`${module}.weight`]).toMatchObject({ dtype: 'F16', shape: [8, 8] });
    expect(metadata['modelspec.merged_from']).toBe('base, sdloop-r1');
    const base = Array.from(await readF32Tensor(join(dir, 'base.safetensors'), `${module}.weight`));
    const want = await expectedWeight(base, join(dir, 'data', 'objects', 'sdloop-r1.safetensors'), 0.5);
    f16(first, `${module}.weight`).forEach((v, k) => expect(v).toBeCloseTo(want[k]!, 2));
    expect(readFileSync(join(dir, 'data', 'logs', 'merge-sdloop-r1-merged.log'), 'utf8')).toContain('saving SD model to:');
  });

  it('records nothing and leaves no file when the merged checkpoint is truncated', async () => {
    process.env.SDLOOP_STANDIN_MODE = 'corrupt';
    const { ctx, dir } = await mergeContext({ train, loop: { promote: 'merge' } });
    await expect(runRounds(ctx, { rounds: 1, untilNoGain: false, targeted: false })).rejects.toThrow(/merging sdloop-r1 into .*base.safetensors failed: .*tensors cover \d+ data bytes but the file holds \d+/);
    expect(await mergedCheckpoints(ctx.sql)).toEqual([]);
    expect(existsSync(join(dir, 'data', 'models', 'checkpoints', 'sdloop-r1-merged.safetensors'))).toBe(false);
  });

  it('merges by simulation with the simulated trainer: the checkpoint lists each LoRA folded in, at its ratio', async () => {
    const { ctx, dir } = await mergeContext({ loop: { promote: 'merge' } });
    expect(await runRounds(ctx, { rounds: 2, untilNoGain: false, targeted: false })).toBe(0);
    const merged = await mergedCheckpoints(ctx.sql);
    expect(merged.map((m) => [m.name, m.base, m.ratio])).toEqual([
      ['sdloop-r1-merged', 'sdloop-synthetic-demo', 0.5],
      ['sdloop-r2-merged', 'data/models/checkpoints/sdloop-r1-merged.safetensors', 0.5],
    ]);
    const checkpoint = await loadSyntheticCheckpoint('sdloop-r2-merged', [join(dir, 'data', 'models', 'checkpoints')]);
    expect(checkpoint.folded.map((f) => [f.lora.name, f.weight, f.lora.strengthOf('x', 'x')])).toEqual([['sdloop-r1', 0.5, 1], ['sdloop-r2', 0.5, 1]]);
    expect(checkpoint.shortHash).toBe(merged[1]!.hash.slice(0, 10));
  });

  it('makes the merged checkpoint the next round\'s baseline: the WebUI lists it, generate pins it, train builds on it', async () => {
    const webui = join(freshDir('webui'), 'models', 'Stable-diffusion');
    const server = await startA1111StandIn({ checkpointDir: webui });
    closers.push(() => void server.close());
    const generate = { backend: 'a1111', endpoints: [server.url], retries: 0 };
    const sets: Record<string, unknown>[] = [];
    // Each round renders one prompt as generate does: its params, with the state's promoted LoRAs and merged checkpoint.
    const [prompt] = benchmarkPrompts(benchmarkSettings.parse({ axes: { Hair: { red: 'red hair', blonde: 'blonde hair' } }, prompts_per_value: 1 })).prompts;
    const { ctx, out } = await mergeContext({ train, generate, loop: { promote: 'merge', checkpoint_dir: webui } }, async (options, sql) => {
      sets.push(options.set ?? {});
      const g = withMerged(withPromoted(generateParams.parse(generate), await readPromoted(sql)), await readMerged(sql));
      const backend = await createBackend(g, { projectDir: ctx.projectDir });
      expect((await backend.render(prompt!)).status).toBe('ok');
      await backend.close();
    });
    expect(await runRounds(ctx, { rounds: 2, untilNoGain: false, targeted: false })).toBe(0);
    expect(existsSync(join(webui, 'sdloop-r1-merged.safetensors'))).toBe(true);
    expect(server.requests.filter((r) => r.path === '/sdapi/v1/refresh-checkpoints')).toHaveLength(2);
    expect((await loopRounds(ctx.sql))[0]!.reason).toBe(`won; merged into data/models/checkpoints/sdloop-r1-merged.safetensors; copied to ${join(webui, 'sdloop-r1-merged.safetensors')}, listed by ${server.url}`);
    const checkpoints = server.txt2img().map((body) => (body.override_settings as Record<string, unknown> | undefined)?.sd_model_checkpoint ?? null);
    expect(checkpoints).toEqual([null, 'sdloop-r1-merged']);
    // No round overrides a param: train reads the merged checkpoint from the state, as generate does.
    expect(sets).toEqual([{}, {}]);
    expect(out.join('')).not.toContain('ran with the');
  });

  it('says what to copy where without loop.checkpoint_dir, and the next round\'s generate refuses a checkpoint the WebUI lacks', async () => {
    const server = await startA1111StandIn();
    closers.push(() => void server.close());
    const generate = { backend: 'a1111', endpoints: [server.url], retries: 0 };
    const { ctx } = await mergeContext({ train, generate, loop: { promote: 'merge' } }, async (_options, sql) => {
      const g = withMerged(generateParams.parse(generate), await readMerged(sql));
      await (await createBackend(g, { projectDir: ctx.projectDir })).close();
    });
    expect(await runRounds(ctx, { rounds: 1, untilNoGain: false, targeted: false })).toBe(0);
    expect((await loopRounds(ctx.sql))[0]!.reason).toMatch(/; copy it into the WebUI's models\/Stable-diffusion folder \(or set loop.checkpoint_dir to that folder\): the next run pins it as generate.model sdloop-r1-merged$/);
    await expect(runRounds(ctx, { rounds: 1, untilNoGain: false, targeted: false })).rejects.toThrow(`model "sdloop-r1-merged" (generate.model) is not on ${server.url}`);
  });
});
