import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hashBytes } from '../../src/hash.js';
import { makeTestContext, runWholeStage } from '../../src/testing.js';
import { benchmarkRow, benchmarkSummaryRow, type ScoreRow } from '../../schemas/tables.js';
import { createBackend } from '../../stages/generate/backend.js';
import { benchmarkPrompts, benchmarkSettings } from '../../stages/benchmark/plan.js';
import { decide, tally, type Outcome } from '../../stages/benchmark/verdict.js';
import { writeSimulatedLora } from '../../demo/simulated-trainer.js';
import benchmark, { makeBenchmarkStage, type BenchmarkScorer } from '../../stages/benchmark/index.js';
import { freshDir } from '../train/fixtures.js';

const axes = { Hair: { red: 'red hair', blonde: 'blonde hair', black: 'black hair' }, Eyes: { blue: 'blue eyes', green: 'green eyes' } };

describe('benchmark plan', () => {
  it('is N prompts per value on the same seeds, one axis each, identical every time', () => {
    const s = benchmarkSettings.parse({ axes, prompts_per_value: 3, seed_base: 50, template: 'a portrait, {value}' });
    const rows = benchmarkPrompts(s);
    expect(rows).toHaveLength(15);
    expect(rows.filter((r) => r.variations.Hair?.key === 'red').map((r) => [r.seed, r.api_prompt])).toEqual([
      [50, 'a portrait, red hair'], [51, 'a portrait, red hair'], [52, 'a portrait, red hair'],
    ]);
    expect(rows[0]!.variations).toEqual({ Eyes: { key: 'blue', value: 'blue eyes', keys: ['blue', 'green'], texts: ['blue eyes', 'green eyes'] } });
    expect(new Set(rows.map((r) => r.prompt_id)).size).toBe(15);
    expect(benchmarkPrompts(s).map((r) => r.prompt_id)).toEqual(rows.map((r) => r.prompt_id));
  });
});

function outcomes(arm: 'baseline' | 'candidate', value: string, successes: number, n: number): Outcome[] {
  return Array.from({ length: n }, (_, i) => ({ arm, axis: 'Hair', value, success: i < successes, p_target: i < successes ? 0.9 : 0.2 }));
}

describe('benchmark verdict', () => {
  const rules = { lora: 'l', alpha: 0.05, tolerance: 0.1 };

  it('tallies rates with Wilson intervals and mean p_target', () => {
    const rows = tally(outcomes('baseline', 'red', 8, 10));
    expect(rows).toEqual([{ arm: 'baseline', axis: 'Hair', value: 'red', n: 10, successes: 8, rate: 0.8, ci_low: 0.490162, ci_high: 0.943318, mean_p_target: 0.76 }]);
    expect(() => benchmarkRow.parse(rows[0])).not.toThrow();
  });

  it('promotes 40/100 -> 55/100 with no value dropping (z 2.124, p 0.0168)', () => {
    const rows = tally([...outcomes('baseline', 'red', 20, 50), ...outcomes('baseline', 'blonde', 20, 50), ...outcomes('candidate', 'red', 35, 50), ...outcomes('candidate', 'blonde', 20, 50)]);
    const summary = decide(rows, rules);
    expect(summary).toMatchObject({ verdict: 'promote', baseline_adherence: 0.4, candidate_adherence: 0.55, difference: 0.15, worst_regression: 0, diff_ci_low: 0.011724, diff_ci_high: 0.280449 });
    expect(summary.p_value).toBeCloseTo(0.01684, 4);
    expect(summary.reason).toBe('adherence 40.0% -> 55.0% (+15.0%, one-sided p = 0.0168); no value dropped more than 10.0%');
    expect(() => benchmarkSummaryRow.parse(summary)).not.toThrow();
  });

  it('rejects the same overall gain when one value drops by more than the tolerance', () => {
    const rows = tally([...outcomes('baseline', 'red', 20, 50), ...outcomes('baseline', 'blonde', 20, 50), ...outcomes('candidate', 'red', 45, 50), ...outcomes('candidate', 'blonde', 10, 50)]);
    const summary = decide(rows, rules);
    expect(summary).toMatchObject({ verdict: 'reject', worst_regression: 0.2 });
    expect(summary.reason).toMatch(/but Hair=blonde dropped 40.0% -> 20.0%, more than the tolerance 10.0%$/);
  });

  it('rejects a gain that is not significant (40/100 -> 45/100: z 0.715, p 0.237)', () => {
    const rows = tally([...outcomes('baseline', 'red', 40, 100), ...outcomes('candidate', 'red', 45, 100)]);
    const summary = decide(rows, rules);
    expect(summary.verdict).toBe('reject');
    expect(summary.p_value).toBeCloseTo(0.2372, 3);
    expect(summary.reason).toMatch(/not a significant improvement at alpha 0.05$/);
  });
});

/** Scores by what the synthetic backend says it drew: a stand-in for the CLIP scorer. */
function standinScorer(drawn: Map<string, Record<string, string> | null>): BenchmarkScorer {
  return {
    async scoreImages(items) {
      const scores: ScoreRow[] = items.flatMap((item) =>
        Object.entries(item.prompt.variations).map(([axis, v]) => {
          const top = drawn.get(item.image_id)?.[axis] ?? '';
          const matched = top === v.key;
          return { image_id: item.image_id, prompt_id: item.prompt.prompt_id, axis, value: v.key, p_target: matched ? 0.9 : 0.1, margin: 0, rank: matched ? 1 : 2, matched, top_value: top, method: 'standin', model: 'standin' };
        }),
      );
      return { scores };
    },
  };
}

async function runBenchmark(tags: Record<string, number>, real = false) {
  const dir = freshDir('benchmark');
  const loraDir = join(dir, 'data', 'stages', 'train', 'lora');
  mkdirSync(loraDir, { recursive: true });
  const name = 'sdloop-test';
  const path = join(loraDir, `${name}.safetensors`);
  await writeSimulatedLora(path, { name, subsets: [{ dir: '4_x', repeats: 4, images: ['a.png'], tags }], datasetHash: 'ab12', dim: 4, alpha: 2, learningRate: 1e-4, steps: 10, epochs: 1, baseModel: 'demo', resolution: 512 });
  const drawn = new Map<string, Record<string, string> | null>();
  const stage = real ? benchmark : makeBenchmarkStage({
    async createBackend(params, opts) {
      const backend = await createBackend(params, opts);
      return {
        ...backend,
        async render(row) {
          const result = await backend.render(row);
          if (result.png) drawn.set(hashBytes(result.png), result.rendered);
          return result;
        },
      };
    },
    createScorer: async () => standinScorer(drawn),
  });
  const settings = { benchmark: { axes, prompts_per_value: 30, width: 64, height: 64 }, generate: { failure_rate: 0.5, blank_rate: 0 } };
  const ctx = makeTestContext({ dir, stage: 'benchmark', params: stage.params.parse(settings) });
  ctx.inputs.lora = { kind: 'path', name: 'lora', path: loraDir, hash: 'h' };
  const info = { name, hash: 'h', path, trainer: 'simulated', dim: 4, alpha: 2, images: 1, steps: 10, base_model: 'demo', duration_s: 0 };
  ctx.inputs.lora_info = { kind: 'table', name: 'lora_info', path: 'memory', hash: 'h', rows: async <T>() => [info] as T[] };
  const out = (await runWholeStage(stage, ctx)) as { benchmark: unknown[]; benchmark_summary: unknown[] };
  return { rows: out.benchmark.map((r) => benchmarkRow.parse(r)), summary: benchmarkSummaryRow.parse(out.benchmark_summary[0]) };
}

describe('benchmark stage on the synthetic backend', () => {
  it('promotes a LoRA trained on the benchmark values', async () => {
    const { rows, summary } = await runBenchmark({ 'red hair': 5, 'blonde hair': 5, 'black hair': 5, 'blue eyes': 5, 'green eyes': 5 });
    expect(rows).toHaveLength(10);
    expect(rows.every((r) => r.n === 30)).toBe(true);
    expect(summary.verdict).toBe('promote');
    expect(summary.candidate_adherence).toBeGreaterThan(summary.baseline_adherence);
    for (const c of rows.filter((r) => r.arm === 'candidate')) {
      const b = rows.find((r) => r.arm === 'baseline' && r.axis === c.axis && r.value === c.value)!;
      expect(c.successes).toBeGreaterThanOrEqual(b.successes);
    }
  });

  it('rejects a LoRA that taught none of the benchmark values', async () => {
    const { summary } = await runBenchmark({ 'a hat': 3 });
    expect(summary.verdict).toBe('reject');
    expect(summary.difference).toBe(0);
    expect(summary.reason).toMatch(/not a significant improvement/);
  });

  it('promotes it through the real scorer on the demo CLIP model too', async () => {
    const { summary } = await runBenchmark({ 'red hair': 5, 'blonde hair': 5, 'black hair': 5, 'blue eyes': 5, 'green eyes': 5 }, true);
    expect(summary.verdict).toBe('promote');
    expect(summary.baseline_adherence).toBeLessThan(0.8);
  });

  it('asks for a fixed plan when benchmark.axes is empty', async () => {
    const stage = makeBenchmarkStage({ createBackend, createScorer: async () => standinScorer(new Map()) });
    const ctx = makeTestContext({ dir: freshDir('benchmark'), params: stage.params.parse({}) });
    await expect(runWholeStage(stage, ctx)).rejects.toThrow(/expected a fixed plan/);
  });
});
