// From per-image outcomes to the benchmark tables and the promote/reject verdict.
// Both arms render the same prompts on the same seeds, so the outcomes come in pairs and
// are judged as pairs: promote only when McNemar's exact test on the per-prompt outcomes
// says the candidate wins more pairs than it loses (one-sided, at `alpha`) and no single
// value drops by more than `tolerance`.
import type { z } from 'zod';
import type { benchmarkRow, benchmarkSummaryRow } from '../../schemas/tables.js';
import type { DiversityFall } from './diversity.js';
import { mcnemarExact, pairedDifferenceInterval, wilson, type PairedTable } from './stats.js';

export type BenchmarkRow = z.infer<typeof benchmarkRow>;
export type BenchmarkSummaryRow = z.infer<typeof benchmarkSummaryRow>;
/** The verdict on one (epoch, weight) point; the summary adds which point it is. */
export type PointVerdict = Omit<BenchmarkSummaryRow, 'epoch' | 'weight' | 'points' | 'stack'>;
export type Arm = 'baseline' | 'candidate';

export interface Outcome {
  arm: Arm;
  /** the benchmark prompt (same seed in both arms): what pairs a baseline with a candidate */
  prompt_id: string;
  axis: string;
  value: string;
  /** the scorer matched the planned value; false for failed and blank renders too */
  success: boolean;
  /** null when nothing was scored (failed or blank render) */
  p_target: number | null;
}

const round6 = (x: number) => Math.round(x * 1e6) / 1e6;

export function tally(outcomes: Outcome[]): BenchmarkRow[] {
  const groups = new Map<string, Outcome[]>();
  for (const o of outcomes) {
    const key = JSON.stringify([o.arm, o.axis, o.value]);
    groups.set(key, [...(groups.get(key) ?? []), o]);
  }
  return [...groups.keys()].sort().map((key) => {
    const group = groups.get(key)!;
    const { arm, axis, value } = group[0]!;
    const successes = group.filter((o) => o.success).length;
    const scored = group.flatMap((o) => (o.p_target === null ? [] : [o.p_target]));
    const ci = wilson(successes, group.length);
    return {
      arm, axis, value,
      n: group.length,
      successes,
      rate: round6(successes / group.length),
      ci_low: round6(ci.low),
      ci_high: round6(ci.high),
      mean_p_target: round6(scored.length ? scored.reduce((a, b) => a + b, 0) / scored.length : 0),
    };
  });
}

/** The 2x2 table of the prompts both arms rendered; a prompt missing from one arm is a bug. */
export function pairedTable(outcomes: Outcome[]): PairedTable {
  const baseline = new Map(outcomes.filter((o) => o.arm === 'baseline').map((o) => [o.prompt_id, o.success]));
  const table: PairedTable = { both: 0, baselineOnly: 0, candidateOnly: 0, neither: 0 };
  for (const c of outcomes.filter((o) => o.arm === 'candidate')) {
    const b = baseline.get(c.prompt_id);
    if (b === undefined) throw new Error(`benchmark prompt ${c.prompt_id} has a candidate outcome but no baseline one`);
    if (b && c.success) table.both++;
    else if (b) table.baselineOnly++;
    else if (c.success) table.candidateOnly++;
    else table.neither++;
  }
  return table;
}

interface Drop {
  axis: string;
  value: string;
  before: number;
  after: number;
  drop: number;
}

function worstDrop(rows: BenchmarkRow[]): Drop | undefined {
  return rows
    .filter((r) => r.arm === 'baseline')
    .map((b) => {
      const c = rows.find((r) => r.arm === 'candidate' && r.axis === b.axis && r.value === b.value);
      return { axis: b.axis, value: b.value, before: b.rate, after: c?.rate ?? 0, drop: b.rate - (c?.rate ?? 0) };
    })
    .sort((a, b) => b.drop - a.drop)[0];
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

export interface DecideOptions {
  lora: string;
  alpha: number;
  tolerance: number;
  /** the value whose image spread fell most (diversity.ts); undefined without embeddings */
  diversityFall?: DiversityFall;
  diversityTolerance?: number;
  /** a micro-LoRA's value: the improvement is tested on its pairs alone */
  focus?: { axis: string; value: string } | null;
}

function diversityProblem(o: DecideOptions): string | null {
  const f = o.diversityFall;
  if (!f || f.fall <= (o.diversityTolerance ?? 1)) return null;
  return `${f.axis}=${f.value} lost diversity: mean pairwise distance ${f.before.toFixed(4)} -> ${f.after.toFixed(4)} (-${pct(f.fall)}), more than the diversity tolerance ${pct(o.diversityTolerance ?? 1)}`;
}

export function decide(outcomes: Outcome[], o: DecideOptions): PointVerdict {
  const rows = tally(outcomes);
  const f = o.focus;
  const table = pairedTable(f ? outcomes.filter((x) => x.axis === f.axis && x.value === f.value) : outcomes);
  if (f && table.both + table.baselineOnly + table.candidateOnly + table.neither === 0) {
    throw new Error(`benchmark.focus ${f.axis}=${f.value} is not in benchmark.axes, so the targeted value cannot be judged`);
  }
  const pairs = table.both + table.baselineOnly + table.candidateOnly + table.neither;
  const test = mcnemarExact(table);
  const ci = pairedDifferenceInterval(table);
  const worst = worstDrop(rows);
  const before = pairs ? (table.both + table.baselineOnly) / pairs : 0;
  const after = pairs ? (table.both + table.candidateOnly) / pairs : 0;
  const change = `${f ? `${f.axis}=${f.value} ` : ''}adherence ${pct(before)} -> ${pct(after)} (${test.difference >= 0 ? '+' : ''}${pct(test.difference)}; ` +
    `${table.candidateOnly} prompt(s) won, ${table.baselineOnly} lost of ${pairs}, McNemar one-sided p = ${test.pGreater.toPrecision(3)})`;
  let verdict: 'promote' | 'reject' = 'promote';
  let reason = `${change}; no value dropped more than ${pct(o.tolerance)}`;
  if (!(test.pGreater < o.alpha)) {
    verdict = 'reject';
    reason = `${change}: not a significant improvement at alpha ${o.alpha}`;
  } else if (worst && worst.drop > o.tolerance) {
    verdict = 'reject';
    reason = `${change}, but ${worst.axis}=${worst.value} dropped ${pct(worst.before)} -> ${pct(worst.after)}, more than the tolerance ${pct(o.tolerance)}`;
  } else if (diversityProblem(o)) {
    verdict = 'reject';
    reason = `${change}, but ${diversityProblem(o)}`;
  }
  return {
    lora: o.lora,
    pairs,
    baseline_only: table.baselineOnly,
    candidate_only: table.candidateOnly,
    baseline_adherence: round6(before),
    candidate_adherence: round6(after),
    difference: round6(test.difference),
    diff_ci_low: round6(ci.low),
    diff_ci_high: round6(ci.high),
    p_value: test.pGreater,
    p_two_sided: test.pTwoSided,
    worst_regression: round6(Math.max(0, worst?.drop ?? 0)),
    worst_diversity_fall: round6(Math.max(0, o.diversityFall?.fall ?? 0)),
    verdict,
    reason,
    judge_verdict: null,
    judge_p_value: null,
  };
}

/**
 * The independent judge's verdict must agree: a LoRA that learnt to please the scorer
 * selection used (its blind spots were in the training data) fails on a second model.
 */
export function withJudge(primary: PointVerdict, judge: PointVerdict, judgeModel: string): PointVerdict {
  const agreed = primary.verdict === 'promote' && judge.verdict === 'promote';
  const reason = primary.verdict === 'promote' && !agreed
    ? `${primary.reason}; but the judge ${judgeModel} does not agree: ${judge.reason}`
    : `${primary.reason}; judge ${judgeModel}: ${judge.verdict} (p = ${judge.p_value.toPrecision(3)})`;
  return { ...primary, verdict: agreed ? 'promote' : 'reject', reason, judge_verdict: judge.verdict, judge_p_value: judge.p_value };
}
