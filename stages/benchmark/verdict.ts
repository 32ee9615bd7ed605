// From per-image outcomes to the benchmark tables and the promote/reject verdict.
// Promote only when overall adherence rises significantly (one-sided pooled z test at
// `alpha`) and no single value drops by more than `tolerance`.
import type { z } from 'zod';
import type { benchmarkRow, benchmarkSummaryRow } from '../../schemas/tables.js';
import { differenceInterval, twoProportionTest, wilson, type Proportion } from './stats.js';

export type BenchmarkRow = z.infer<typeof benchmarkRow>;
export type BenchmarkSummaryRow = z.infer<typeof benchmarkSummaryRow>;
export type Arm = 'baseline' | 'candidate';

export interface Outcome {
  arm: Arm;
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

function overall(rows: BenchmarkRow[], arm: Arm): Proportion {
  const mine = rows.filter((r) => r.arm === arm);
  return { successes: mine.reduce((s, r) => s + r.successes, 0), n: mine.reduce((s, r) => s + r.n, 0) };
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

export function decide(rows: BenchmarkRow[], o: { lora: string; alpha: number; tolerance: number }): BenchmarkSummaryRow {
  const base = overall(rows, 'baseline');
  const cand = overall(rows, 'candidate');
  const test = twoProportionTest(base, cand);
  const ci = differenceInterval(base, cand);
  const drops = rows
    .filter((r) => r.arm === 'baseline')
    .map((b) => {
      const c = rows.find((r) => r.arm === 'candidate' && r.axis === b.axis && r.value === b.value);
      return { axis: b.axis, value: b.value, before: b.rate, after: c?.rate ?? 0, drop: b.rate - (c?.rate ?? 0) };
    })
    .sort((a, b) => b.drop - a.drop);
  const worst = drops[0];
  const worstRegression = Math.max(0, worst?.drop ?? 0);
  const before = base.n ? base.successes / base.n : 0;
  const after = cand.n ? cand.successes / cand.n : 0;
  const change = `adherence ${pct(before)} -> ${pct(after)} (${test.difference >= 0 ? '+' : ''}${pct(test.difference)}, one-sided p = ${test.pGreater.toPrecision(3)})`;
  let verdict: 'promote' | 'reject' = 'promote';
  let reason = `${change}; no value dropped more than ${pct(o.tolerance)}`;
  if (!(test.pGreater < o.alpha)) {
    verdict = 'reject';
    reason = `${change}: not a significant improvement at alpha ${o.alpha}`;
  } else if (worst && worst.drop > o.tolerance) {
    verdict = 'reject';
    reason = `${change}, but ${worst.axis}=${worst.value} dropped ${pct(worst.before)} -> ${pct(worst.after)}, more than the tolerance ${pct(o.tolerance)}`;
  }
  return {
    lora: o.lora,
    baseline_adherence: round6(before),
    candidate_adherence: round6(after),
    difference: round6(test.difference),
    diff_ci_low: round6(ci.low),
    diff_ci_high: round6(ci.high),
    p_value: test.pGreater,
    worst_regression: round6(worstRegression),
    verdict,
    reason,
  };
}
