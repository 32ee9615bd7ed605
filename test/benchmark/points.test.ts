// Epoch x weight: the benchmark tries every saved epoch at every weight against one
// baseline, tests each point at alpha / points, and records the best point that passes.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeTestContext, runWholeStage } from '../../src/testing.js';
import { benchmarkImageRow, benchmarkPointRow, benchmarkSummaryRow, type LoraInfoRow } from '../../schemas/tables.js';
import { writeSimulatedLora } from '../../demo/simulated-trainer.js';
import benchmark from '../../stages/benchmark/index.js';
import { choosePoint, pointsOf } from '../../stages/benchmark/points.js';
import { epochFileName } from '../../stages/train/epochs.js';
import type { PointVerdict } from '../../stages/benchmark/verdict.js';
import { freshDir } from '../train/fixtures.js';

const axes = { Hair: { red: 'red hair', blonde: 'blonde hair', black: 'black hair' } };
const tags = { 'red hair': 5, 'blonde hair': 5, 'black hair': 5 };

function file(name: string, epoch: number): LoraInfoRow {
  return { name, hash: name, path: `${name}.safetensors`, trainer: 'simulated', dim: 4, alpha: 2, images: 1, steps: epoch, base_model: 'demo', duration_s: 0, epoch };
}

function verdict(v: 'promote' | 'reject', adherence: number, p: number): PointVerdict {
  return { lora: 'x', pairs: 10, baseline_only: 0, candidate_only: 0, baseline_adherence: 0.5, candidate_adherence: adherence, difference: 0, diff_ci_low: 0, diff_ci_high: 0, p_value: p, p_two_sided: p, worst_regression: 0, worst_diversity_fall: 0, verdict: v, reason: '', judge_verdict: null, judge_p_value: null };
}

describe('epoch x weight points', () => {
  it('is every saved file at every weight, earliest epoch and lowest weight first', () => {
    const points = pointsOf([file('l', 4), file('l-000002', 2)], [1, 0.5, 1]);
    expect(points.map((p) => [p.lora.epoch, p.weight])).toEqual([[2, 0.5], [2, 1], [4, 0.5], [4, 1]]);
  });

  it('chooses a passing point over a better-scoring refused one, then adherence, then the lighter touch', () => {
    const points = pointsOf([file('l-000002', 2), file('l', 4)], [0.5, 1]);
    // [2, 0.5], [2, 1], [4, 0.5], [4, 1]; the tie between [2, 1] and [4, 0.5] goes to the lower weight.
    expect(choosePoint(points, [verdict('reject', 0.7, 0.5), verdict('promote', 0.8, 0.01), verdict('promote', 0.8, 0.01), verdict('reject', 0.95, 0.001)])).toBe(2);
    expect(choosePoint(points, [verdict('promote', 0.8, 0.01), verdict('reject', 0.8, 0.01), verdict('promote', 0.8, 0.01), verdict('reject', 0.95, 0.001)])).toBe(0);
    expect(choosePoint(points, [verdict('promote', 0.8, 0.01), verdict('promote', 0.9, 0.01), verdict('promote', 0.8, 0.01), verdict('reject', 0.95, 0.001)])).toBe(1);
    expect(choosePoint(points, [verdict('reject', 0.5, 1), verdict('reject', 0.6, 0.2), verdict('reject', 0.55, 0.3), verdict('reject', 0.52, 0.4)])).toBe(1);
  });
});

/** The final file at epoch 4 and the one sd-scripts saves at epoch 2 (save_every_n_epochs 2). */
async function runPoints(weights: number[], finalCollapse = 0) {
  const dir = freshDir('points');
  const loraDir = join(dir, 'data', 'stages', 'train', 'lora');
  mkdirSync(loraDir, { recursive: true });
  const name = 'sdloop-points';
  const files: LoraInfoRow[] = [];
  for (const epoch of [4, 2]) {
    const stem = epoch === 4 ? name : epochFileName(name, epoch);
    const path = join(loraDir, `${stem}.safetensors`);
    const subsets = [{ dir: '4_x', repeats: 4, images: ['a.png'], tags }];
    await writeSimulatedLora(path, { name, subsets, datasetHash: 'cd34', dim: 4, alpha: 2, learningRate: 1e-4, steps: epoch * 4, epochs: 4, epoch, baseModel: 'demo', resolution: 512, collapse: epoch === 4 ? finalCollapse : 0 });
    files.push({ ...file(stem, epoch), path });
  }
  const settings = { benchmark: { axes, prompts_per_value: 30, width: 96, height: 64, weights, diversity_features: 'pixels' }, generate: { failure_rate: 0.6, blank_rate: 0 } };
  const ctx = makeTestContext({ dir, stage: 'benchmark', params: benchmark.params.parse(settings) });
  ctx.inputs.lora = { kind: 'path', name: 'lora', path: loraDir, hash: 'h' };
  ctx.inputs.lora_info = { kind: 'table', name: 'lora_info', path: 'memory', hash: 'h', rows: async <T>() => files as T[] };
  const out = (await runWholeStage(benchmark, ctx)) as Record<'benchmark_summary' | 'benchmark_points' | 'benchmark_images', unknown[]>;
  return {
    summary: benchmarkSummaryRow.parse(out.benchmark_summary[0]),
    points: out.benchmark_points.map((r) => benchmarkPointRow.parse(r)),
    images: out.benchmark_images.map((r) => benchmarkImageRow.parse(r)),
    dir,
  };
}

describe('benchmark stage over saved epochs and weights (synthetic backend, demo CLIP)', () => {
  it('scores every point on the same baseline and records the best one it chose', async () => {
    const { summary, points, images, dir } = await runPoints([0.5, 1]);
    // Every picture of every arm is listed (and stored), so people can label any of them.
    expect(images).toHaveLength(90 * 5);
    expect(images.filter((i) => i.arm === 'baseline' && i.lora === null)).toHaveLength(90);
    expect(images.filter((i) => i.lora === 'sdloop-points' && i.weight === 1)).toHaveLength(90);
    expect(existsSync(join(dir, images[0]!.path))).toBe(true);
    expect(points.map((p) => [p.lora, p.epoch, p.weight])).toEqual([
      ['sdloop-points-000002', 2, 0.5], ['sdloop-points-000002', 2, 1], ['sdloop-points', 4, 0.5], ['sdloop-points', 4, 1],
    ]);
    expect(points.filter((p) => p.chosen)).toHaveLength(1);
    const chosen = points.find((p) => p.chosen)!;
    expect(summary).toMatchObject({ lora: chosen.lora, epoch: chosen.epoch, weight: chosen.weight, points: 4, verdict: 'promote' });
    expect(chosen.candidate_adherence).toBe(Math.max(...points.map((p) => p.candidate_adherence)));
    // Half the training at half the weight learnt less than the whole at full weight.
    expect(points[0]!.candidate_adherence).toBeLessThan(points[3]!.candidate_adherence);
    expect(summary.reason).toMatch(/^epoch \d at weight [\d.]+ \(sdloop-points(-000002)?, the best of 4 epoch x weight points, each tested at alpha 0.0125\): /);
  });

  it('keeps an earlier epoch when the final one buys its adherence by collapsing diversity', async () => {
    const { summary, points } = await runPoints([1], 0.9);
    const final = points.find((p) => p.epoch === 4)!;
    expect(final.verdict).toBe('reject');
    expect(final.reason).toMatch(/lost diversity/);
    expect(summary).toMatchObject({ lora: 'sdloop-points-000002', epoch: 2, weight: 1, verdict: 'promote', points: 2 });
  });
});
