// Re-tuning the stack (benchmark.stack_weights): once the candidate's best (epoch, weight)
// point is known, the weights of every LoRA its prompts carry (the promoted ones and the
// candidate) are tuned together, since each promoted LoRA's weight was chosen before the
// others joined it. A coordinate search: one LoRA at a time, every weight of the grid
// with the others held, the best point so far kept; at most benchmark.stack_points
// points, each judged against the same baseline with the same paired test as the
// epoch x weight points, at alpha / (those points + stack_points) (Bonferroni over every
// test the benchmark may make, so searching cannot make a lucky point easier to pass).
import type { z } from 'zod';
import type { benchmarkStackRow } from '../../schemas/tables.js';
import type { PointVerdict } from './verdict.js';
import type { BenchmarkSettings } from './plan.js';

export type BenchmarkStackRow = z.infer<typeof benchmarkStackRow>;

/** One LoRA of the stack at a weight; the candidate is the last. */
export interface StackMember {
  name: string;
  weight: number;
}

export interface StackPoint {
  stack: StackMember[];
  verdict: PointVerdict;
}

/** The promoted LoRAs a benchmark's prompts carry: those for every theme, and its own theme's. */
export function stackedOf<T extends { theme: string | null }>(promoted: T[], theme: string | null): T[] {
  return promoted.filter((p) => p.theme === null || p.theme === theme);
}

/**
 * The most stack points the search can judge: stack_points, or fewer when the stack and
 * the grid allow fewer moves. It goes into the Bonferroni count up front.
 */
export function stackTests(s: Pick<BenchmarkSettings, 'stack_weights' | 'stack_points'>, stacked: number): number {
  if (!s.stack_weights || stacked === 0) return 0;
  return Math.min(s.stack_points, (stacked + 1) * new Set(s.stack_weights).size);
}

const totalWeight = (stack: StackMember[]) => stack.reduce((sum, m) => sum + m.weight, 0);

/**
 * Negative when `a` is the better point: one that passes before one that does not, then
 * the higher adherence, the stronger evidence, the lighter touch (lower weights).
 */
export function compareStackPoints(a: StackPoint, b: StackPoint): number {
  return (Number(b.verdict.verdict === 'promote') - Number(a.verdict.verdict === 'promote'))
    || (b.verdict.candidate_adherence - a.verdict.candidate_adherence)
    || (a.verdict.p_value - b.verdict.p_value)
    || (totalWeight(a.stack) - totalWeight(b.stack));
}

/**
 * The coordinate search from `start` (the chosen epoch x weight point). Returns every
 * point judged, `start` first, and the index of the best: since the search keeps the
 * best point so far as its centre, that is the best of all the points it judged.
 */
export async function tuneStack(
  start: StackPoint,
  grid: number[],
  budget: number,
  evaluate: (stack: StackMember[]) => Promise<PointVerdict>,
): Promise<{ tried: StackPoint[]; chosen: number }> {
  const tried: StackPoint[] = [start];
  let best = 0;
  const weights = [...new Set(grid)].sort((a, b) => a - b);
  for (let member = 0; member < start.stack.length; member++) {
    // Every weight of this LoRA around the best point when its turn came.
    const centre = tried[best]!.stack;
    for (const weight of weights) {
      if (tried.length - 1 >= budget) return { tried, chosen: best };
      if (centre[member]!.weight === weight) continue;
      const stack = centre.map((m, i) => (i === member ? { ...m, weight } : m));
      tried.push({ stack, verdict: await evaluate(stack) });
      if (compareStackPoints(tried.at(-1)!, tried[best]!) < 0) best = tried.length - 1;
    }
  }
  return { tried, chosen: best };
}

const spec = (m: StackMember) => `${m.name}:${m.weight}`;

export function stackRows(tried: StackPoint[], chosen: number): BenchmarkStackRow[] {
  return tried.map((p, i) => ({
    stack: p.stack.map(spec),
    candidate_adherence: p.verdict.candidate_adherence,
    difference: p.verdict.difference,
    p_value: p.verdict.p_value,
    worst_regression: p.verdict.worst_regression,
    worst_diversity_fall: p.verdict.worst_diversity_fall,
    verdict: p.verdict.verdict,
    reason: p.verdict.reason,
    chosen: i === chosen,
  }));
}

/** What the summary's reason says of the search; nothing when it did not run. */
export function stackPrefix(tried: StackPoint[], chosen: number): string {
  if (tried.length < 2) return '';
  const moved = chosen === 0 ? 'kept the promoted weights' : `re-tuned to ${tried[chosen]!.stack.map(spec).join(', ')}`;
  return `stack ${moved} (the best of ${tried.length} stack points): `;
}
