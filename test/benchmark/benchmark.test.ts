import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hashBytes } from '../../src/hash.js';
import { makeTestContext, runWholeStage } from '../../src/testing.js';
import { benchmarkAgreementRow, benchmarkDiversityRow, benchmarkRow, benchmarkSummaryRow, type ScoreRow } from '../../schemas/tables.js';
import { labelsJournal } from '../../stages/classify/human-labels.js';
import { createBackend } from '../../stages/generate/backend.js';
import { benchmarkPrompts, benchmarkSettings } from '../../stages/benchmark/plan.js';
import { decide, pairedTable, tally, withJudge, type Outcome } from '../../stages/benchmark/verdict.js';
import { writeSimulatedLora } from '../../demo/simulated-trainer.js';
import benchmark, { makeBenchmarkStage, type BenchmarkScorer } from '../../stages/benchmark/index.js';
import { freshDir } from '../train/fixtures.js';

const axes = { Hair: { red: 'red hair', blonde: 'blonde hair', black: 'black hair' }, Eyes: { blue: 'blue eyes', green: 'green eyes' } };

describe('benchmark plan', () => {
  it('is N prompts per value on the same seeds, one axis each, identical every time', () => {
    const s = benchmarkSettings.parse({ axes, prompts_per_value: 3, seed_base: 50, template: 'a portrait, {value}' });
    const { prompts: rows, alternatives } = benchmarkPrompts(s);
    expect(rows).toHaveLength(15);
    expect(rows.filter((r) => r.variations.Hair?.key === 'red').map((r) => [r.seed, r.api_prompt])).toEqual([
      [50, 'a portrait, red hair'], [51, 'a portrait, red hair'], [52, 'a portrait, red hair'],
    ]);
    expect(rows[0]!.variations).toEqual({ Eyes: { key: 'blue', value: 'blue eyes', text: 'blue eyes', alternatives: expect.any(String) } });
    expect(alternatives.get(rows[0]!.variations.Eyes!.alternatives)).toMatchObject({ axis: 'Eyes', keys: ['blue', 'green'], texts: ['blue eyes', 'green eyes'] });
    expect(new Set(rows.map((r) => r.prompt_id)).size).toBe(15);
    expect(benchmarkPrompts(s).prompts.map((r) => r.prompt_id)).toEqual(rows.map((r) => r.prompt_id));
  });

  it('renders a theme\'s round as that theme\'s prompts, with its own plan and template where benchmark.themes gives them', () => {
    const themes = { fantasy: { axes: { Hair: { silver: 'silver elf hair', auburn: 'auburn hair' } }, template: 'an elf, {value}' } };
    const shared = benchmarkPrompts(benchmarkSettings.parse({ axes, prompts_per_value: 2, themes })).prompts;
    expect(shared.every((r) => r.theme === null)).toBe(true);
    const fantasy = benchmarkPrompts(benchmarkSettings.parse({ axes, prompts_per_value: 2, themes, theme: 'fantasy' })).prompts;
    expect(fantasy.map((r) => [r.theme, r.api_prompt])).toEqual([
      ['fantasy', 'an elf, silver elf hair'], ['fantasy', 'an elf, silver elf hair'], ['fantasy', 'an elf, auburn hair'], ['fantasy', 'an elf, auburn hair'],
    ]);
    // A theme without its own plan renders the shared one, as its own prompts (its LoRAs go in them).
    const cyberpunk = benchmarkPrompts(benchmarkSettings.parse({ axes, prompts_per_value: 2, themes, theme: 'cyberpunk' })).prompts;
    expect(cyberpunk.map((r) => r.api_prompt)).toEqual(shared.map((r) => r.api_prompt));
    expect(cyberpunk.every((r) => r.theme === 'cyberpunk')).toBe(true);
    expect(cyberpunk.filter((r, i) => r.prompt_id === shared[i]!.prompt_id)).toEqual([]);
  });
});

function outcomes(arm: 'baseline' | 'candidate', value: string, successes: number, n: number): Outcome[] {
  return Array.from({ length: n }, (_, i) => ({ arm, prompt_id: `${value}-${i}`, axis: 'Hair', value, success: i < successes, p_target: i < successes ? 0.9 : 0.2 }));
}

/** Both arms of one value's prompts from its paired table, prompt by prompt. */
function paired(value: string, t: { both: number; baselineOnly: number; candidateOnly: number; neither: number }): Outcome[] {
  const cells: [boolean, boolean, number][] = [[true, true, t.both], [true, false, t.baselineOnly], [false, true, t.candidateOnly], [false, false, t.neither]];
  const out: Outcome[] = [];
  let i = 0;
  for (const [base, cand, count] of cells) {
    for (let k = 0; k < count; k++, i++) {
      const prompt_id = `${value}-${i}`;
      out.push({ arm: 'baseline', prompt_id, axis: 'Hair', value, success: base, p_target: base ? 0.9 : 0.2 });
      out.push({ arm: 'candidate', prompt_id, axis: 'Hair', value, success: cand, p_target: cand ? 0.9 : 0.2 });
    }
  }
  return out;
}

describe('benchmark verdict', () => {
  const rules = { lora: 'l', alpha: 0.05, tolerance: 0.1 };

  it('tallies rates with Wilson intervals and mean p_target', () => {
    const rows = tally(outcomes('baseline', 'red', 8, 10));
    expect(rows).toEqual([{ arm: 'baseline', axis: 'Hair', value: 'red', n: 10, successes: 8, rate: 0.8, ci_low: 0.490162, ci_high: 0.943318, mean_p_target: 0.76 }]);
    expect(() => benchmarkRow.parse(rows[0])).not.toThrow();
  });

  it('pairs the arms by prompt into a 2x2 table', () => {
    expect(pairedTable(paired('red', { both: 3, baselineOnly: 1, candidateOnly: 4, neither: 2 }))).toEqual({ both: 3, baselineOnly: 1, candidateOnly: 4, neither: 2 });
    expect(() => pairedTable(outcomes('candidate', 'red', 1, 1))).toThrow(/no baseline one/);
  });

  it('promotes 40% -> 45% when the 5 prompts that changed all changed for the better (McNemar p = 1/32)', () => {
    // The unpaired two-proportion test on 40/100 against 45/100 gave p = 0.237 here.
    const summary = decide([...paired('red', { both: 20, baselineOnly: 0, candidateOnly: 5, neither: 25 }), ...paired('blonde', { both: 20, baselineOnly: 0, candidateOnly: 0, neither: 30 })], rules);
    expect(summary).toMatchObject({ verdict: 'promote', pairs: 100, baseline_only: 0, candidate_only: 5, baseline_adherence: 0.4, candidate_adherence: 0.45, difference: 0.05, worst_regression: 0 });
    expect(summary.p_value).toBeCloseTo(1 / 32, 12);
    expect(summary.p_two_sided).toBeCloseTo(1 / 16, 12);
    expect(summary.diff_ci_low).toBeGreaterThan(0);
    expect(summary.reason).toBe('adherence 40.0% -> 45.0% (+5.0%; 5 prompt(s) won, 0 lost of 100, McNemar one-sided p = 0.0313); no value dropped more than 10.0%');
    expect(() => benchmarkSummaryRow.parse({ ...summary, epoch: 1, weight: 0.8, points: 1, stack: [] })).not.toThrow();
  });

  it('rejects the same net gain when the prompts churn: 12 won, 7 lost (p = P(X >= 12 | Bin(19, 1/2)) = 0.180)', () => {
    const summary = decide(paired('red', { both: 30, baselineOnly: 7, candidateOnly: 12, neither: 51 }), rules);
    expect(summary.verdict).toBe('reject');
    // (C(19,12) + ... + C(19,19)) / 2^19 = (50388 + 27132 + 11628 + 3876 + 969 + 171 + 19 + 1) / 524288
    expect(summary.p_value).toBeCloseTo(94184 / 524288, 12);
    expect(summary.reason).toMatch(/not a significant improvement at alpha 0.05$/);
  });

  it('rejects a significant overall gain when one value drops by more than the tolerance', () => {
    const summary = decide([...paired('red', { both: 20, baselineOnly: 0, candidateOnly: 25, neither: 5 }), ...paired('blonde', { both: 10, baselineOnly: 10, candidateOnly: 0, neither: 30 })], rules);
    expect(summary).toMatchObject({ verdict: 'reject', worst_regression: 0.2 });
    expect(summary.p_value).toBeLessThan(0.05);
    expect(summary.reason).toMatch(/but Hair=blonde dropped 40.0% -> 20.0%, more than the tolerance 10.0%$/);
  });

  it('a targeted round tests its value\'s pairs alone and still guards every other value', () => {
    const focus = { axis: 'Hair', value: 'red' };
    // red: 6 won, 0 lost of 20 (p = 1/64); blonde unchanged, so overall 6 of 60 pairs changed.
    const gain = decide([...paired('red', { both: 4, baselineOnly: 0, candidateOnly: 6, neither: 10 }), ...paired('blonde', { both: 30, baselineOnly: 0, candidateOnly: 0, neither: 10 })], { ...rules, focus });
    expect(gain).toMatchObject({ verdict: 'promote', pairs: 20, candidate_only: 6, baseline_adherence: 0.2, candidate_adherence: 0.5 });
    expect(gain.p_value).toBeCloseTo(1 / 64, 12);
    expect(gain.reason).toMatch(/^Hair=red adherence 20.0% -> 50.0%/);
    const broke = decide([...paired('red', { both: 4, baselineOnly: 0, candidateOnly: 6, neither: 10 }), ...paired('blonde', { both: 20, baselineOnly: 10, candidateOnly: 0, neither: 10 })], { ...rules, focus });
    expect(broke.verdict).toBe('reject');
    expect(broke.reason).toMatch(/but Hair=blonde dropped 75.0% -> 50.0%/);
    expect(() => decide(paired('red', { both: 1, baselineOnly: 0, candidateOnly: 0, neither: 0 }), { ...rules, focus: { axis: 'Hair', value: 'teal' } })).toThrow(/benchmark.focus Hair=teal is not in benchmark.axes/);
  });

  it('needs the judge to agree', () => {
    const win = decide(paired('red', { both: 20, baselineOnly: 0, candidateOnly: 6, neither: 24 }), rules);
    const flat = decide(paired('red', { both: 20, baselineOnly: 2, candidateOnly: 2, neither: 26 }), rules);
    const vetoed = withJudge(win, flat, 'clip-large');
    expect(vetoed).toMatchObject({ verdict: 'reject', judge_verdict: 'reject', judge_p_value: flat.p_value });
    expect(vetoed.reason).toMatch(/but the judge clip-large does not agree: .*not a significant improvement/);
    expect(withJudge(win, win, 'clip-large')).toMatchObject({ verdict: 'promote', judge_verdict: 'promote' });
    expect(withJudge(flat, win, 'clip-large')).toMatchObject({ verdict: 'reject', judge_verdict: 'promote' });
  });
});

/**
 * Scores by what the synthetic backend says it drew: a stand-in for the CLIP scorer. A
 * `blind` one reads nothing at all, a judge that sees no difference the LoRA made.
 */
function standinScorer(drawn: Map<string, Record<string, string> | null>, blind = false): BenchmarkScorer {
  return {
    async scoreImages(items) {
      const scores: ScoreRow[] = items.flatMap((item) =>
        Object.entries(item.prompt.variations).map(([axis, v]) => {
          const top = blind ? '' : drawn.get(item.image_id)?.[axis] ?? '';
          const matched = top === v.key;
          return { image_id: item.image_id, prompt_id: item.prompt.prompt_id, axis, value: v.key, p_target: matched ? 0.9 : 0.1, margin: 0, rank: matched ? 1 : 2, matched, top_value: top, method: 'standin', model: 'standin' };
        }),
      );
      return { scores };
    },
  };
}

interface BenchmarkRun {
  real?: boolean;
  /** a judge model: `judge-sees` scores as the stand-in does, `judge-blind` reads nothing */
  judge?: 'judge-sees' | 'judge-blind' | 'demo';
  /** label every benchmark picture of an axis with what it shows (people agree with the stand-in) */
  labelAxis?: string;
  /** the simulated LoRA's sdloop_collapse (demo): that share of its renders ignore the seed */
  collapse?: number;
}

async function runBenchmark(tags: Record<string, number>, run: BenchmarkRun = {}) {
  const real = run.real ?? false;
  const dir = freshDir('benchmark');
  const loraDir = join(dir, 'data', 'stages', 'train', 'lora');
  mkdirSync(loraDir, { recursive: true });
  const name = 'sdloop-test';
  const path = join(loraDir, `${name}.safetensors`);
  await writeSimulatedLora(path, { name, subsets: [{ dir: '4_x', repeats: 4, images: ['a.png'], tags }], datasetHash: 'ab12', dim: 4, alpha: 2, learningRate: 1e-4, steps: 10, epochs: 1, baseModel: 'demo', resolution: 512, collapse: run.collapse });
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
    createScorer: async (params) => standinScorer(drawn, params.model === 'judge-blind'),
  });
  const judge = run.judge ? { model: run.judge } : null;
  // Wider than tall: the synthetic renderer's seeded decoration lies outside the centre square.
  const settings = { benchmark: { axes, prompts_per_value: 30, width: 96, height: 64, judge, diversity_features: 'pixels' }, generate: { failure_rate: 0.5, blank_rate: 0 } };
  const ctx = makeTestContext({ dir, stage: 'benchmark', params: stage.params.parse(settings) });
  ctx.inputs.lora = { kind: 'path', name: 'lora', path: loraDir, hash: 'h' };
  const info = { name, hash: 'h', path, trainer: 'simulated', dim: 4, alpha: 2, images: 1, steps: 10, base_model: 'demo', duration_s: 0, epoch: 1 };
  ctx.inputs.lora_info = { kind: 'table', name: 'lora_info', path: 'memory', hash: 'h', rows: async <T>() => [info] as T[] };
  if (run.labelAxis) await labelEverything(ctx.dataDir, stage, settings, run.labelAxis, drawn);
  const out = (await runWholeStage(stage, ctx)) as Record<'benchmark' | 'benchmark_summary' | 'benchmark_agreement' | 'benchmark_diversity', unknown[]>;
  return {
    rows: out.benchmark.map((r) => benchmarkRow.parse(r)),
    summary: benchmarkSummaryRow.parse(out.benchmark_summary[0]),
    agreement: out.benchmark_agreement.map((r) => benchmarkAgreementRow.parse(r)),
    diversity: out.benchmark_diversity.map((r) => benchmarkDiversityRow.parse(r)),
  };
}

/**
 * A person labels the benchmark pictures of one axis: they render the same bytes every
 * time (fixed seeds), so a rehearsal render gives the image ids the stage will see.
 * Where the render failed the person sees nothing drawn and labels it `unreadable`.
 */
async function labelEverything(dataDir: string, stage: ReturnType<typeof makeBenchmarkStage>, settings: object, axis: string, drawn: Map<string, Record<string, string> | null>) {
  const params = stage.params.parse(settings);
  const plan = benchmarkPrompts(params.benchmark);
  const backend = await createBackend(params.generate, { projectDir: dataDir, alternatives: (id) => plan.alternatives.get(id) });
  const rows = [];
  for (const prompt of plan.prompts.filter((p) => p.variations[axis])) {
    const result = await backend.render(prompt);
    if (!result.png) continue;
    const image_id = hashBytes(result.png);
    drawn.set(image_id, result.rendered);
    rows.push({ image_id, axis, value: result.rendered?.[axis] ?? 'unreadable', reject: false, created_at: '2026-01-01T00:00:00Z' });
  }
  await backend.close();
  await labelsJournal(dataDir).append(rows);
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
    const { summary } = await runBenchmark({ 'red hair': 5, 'blonde hair': 5, 'black hair': 5, 'blue eyes': 5, 'green eyes': 5 }, { real: true });
    expect(summary.verdict).toBe('promote');
    expect(summary.baseline_adherence).toBeLessThan(0.8);
  });

  it('refuses a LoRA that buys adherence by collapsing diversity', async () => {
    const tags = { 'red hair': 5, 'blonde hair': 5, 'black hair': 5, 'blue eyes': 5, 'green eyes': 5 };
    const healthy = await runBenchmark(tags, { real: true });
    const collapsed = await runBenchmark(tags, { real: true, collapse: 0.9 });
    // Same adherence gain either way: the collapse touches only what the scorer ignores.
    expect(collapsed.summary.candidate_adherence).toBe(healthy.summary.candidate_adherence);
    expect(healthy.summary).toMatchObject({ verdict: 'promote' });
    expect(healthy.summary.worst_diversity_fall).toBeLessThan(0.1);
    expect(collapsed.summary.verdict).toBe('reject');
    expect(collapsed.summary.worst_diversity_fall).toBeGreaterThan(0.5);
    expect(collapsed.summary.reason).toMatch(/lost diversity: mean pairwise distance .* more than the diversity tolerance 25.0%$/);
    const rate = (d: typeof healthy.diversity, arm: string) => Math.max(...d.filter((r) => r.arm === arm).map((r) => r.near_duplicate_rate));
    expect(rate(healthy.diversity, 'candidate')).toBe(0);
    expect(rate(collapsed.diversity, 'baseline')).toBe(0);
    expect(rate(collapsed.diversity, 'candidate')).toBeGreaterThan(0.5);
  });

  it('promotes only when the independent judge agrees', async () => {
    const tags = { 'red hair': 5, 'blonde hair': 5, 'black hair': 5, 'blue eyes': 5, 'green eyes': 5 };
    const agreed = await runBenchmark(tags, { judge: 'judge-sees' });
    expect(agreed.summary).toMatchObject({ verdict: 'promote', judge_verdict: 'promote' });
    expect(agreed.summary.judge_p_value).toBe(agreed.summary.p_value);
    const vetoed = await runBenchmark(tags, { judge: 'judge-blind' });
    expect(vetoed.summary).toMatchObject({ verdict: 'reject', judge_verdict: 'reject', judge_p_value: 1 });
    expect(vetoed.summary.p_value).toBeLessThan(0.05);
    expect(vetoed.summary.reason).toMatch(/but the judge judge-blind does not agree/);
  });

  it('refuses a judge that is the model selection used', async () => {
    await expect(runBenchmark({ 'a hat': 1 }, { judge: 'demo' })).rejects.toThrow(/expected a judge model other than score.model \(demo\)/);
  });

  it("reports Cohen's kappa per axis against people's labels of benchmark pictures", async () => {
    const tags = { 'red hair': 5, 'blonde hair': 5, 'black hair': 5, 'blue eyes': 5, 'green eyes': 5 };
    const { agreement } = await runBenchmark(tags, { judge: 'judge-blind', labelAxis: 'Hair' });
    const score = agreement.find((a) => a.rater === 'score')!;
    const judge = agreement.find((a) => a.rater === 'judge')!;
    expect(agreement.map((a) => [a.rater, a.axis])).toEqual([['score', 'Hair'], ['judge', 'Hair']]);
    // The stand-in reads exactly what was drawn, as the person did: perfect agreement.
    expect(score).toMatchObject({ observed: 1, kappa: 1 });
    expect(score.n).toBeGreaterThan(20);
    // The blind judge reads '' for everything: chance agreement 0, observed 0, kappa 0.
    expect(judge).toMatchObject({ n: score.n, observed: 0, expected: 0, kappa: 0 });
  });

  it('asks for a fixed plan when benchmark.axes is empty', async () => {
    const stage = makeBenchmarkStage({ createBackend, createScorer: async () => standinScorer(new Map()) });
    const ctx = makeTestContext({ dir: freshDir('benchmark'), params: stage.params.parse({}) });
    await expect(runWholeStage(stage, ctx)).rejects.toThrow(/expected a fixed plan/);
  });
});
