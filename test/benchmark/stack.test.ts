// Re-tuning the stack: the coordinate search over the promoted LoRAs' and the candidate's
// weights, its budget, its Bonferroni count and the point it keeps, on hand-worked scores.
import { describe, expect, it } from 'vitest';
import { stackTests, tuneStack, type StackMember, type StackPoint } from '../../stages/benchmark/stack.js';
import type { PointVerdict } from '../../stages/benchmark/verdict.js';

function verdict(v: 'promote' | 'reject', adherence: number): PointVerdict {
  return { lora: 'c', pairs: 10, baseline_only: 0, candidate_only: 0, baseline_adherence: 0.5, candidate_adherence: adherence, difference: 0, diff_ci_low: 0, diff_ci_high: 0, p_value: 0.01, p_two_sided: 0.02, worst_regression: 0, worst_diversity_fall: 0, verdict: v, reason: '', judge_verdict: null, judge_p_value: null };
}

const key = (stack: StackMember[]) => stack.map((m) => `${m.name}:${m.weight}`).join(',');

describe('stack re-tuning', () => {
  // a:1 with c:0.5 scores best but is refused (a value regressed); a:0.5 with c:1 is the best that passes.
  const table: Record<string, PointVerdict> = {
    'a:1,c:1': verdict('promote', 0.70),
    'a:0.5,c:1': verdict('promote', 0.78),
    'a:0.5,c:0.5': verdict('promote', 0.60),
    'a:1,c:0.5': verdict('reject', 0.90),
  };
  const start: StackPoint = { stack: [{ name: 'a', weight: 1 }, { name: 'c', weight: 1 }], verdict: table['a:1,c:1']! };

  it('moves one LoRA at a time from the best point so far and keeps the best that passes', async () => {
    const asked: string[] = [];
    const { tried, chosen } = await tuneStack(start, [1, 0.5], 6, async (stack) => {
      asked.push(key(stack));
      return table[key(stack)]!;
    });
    // a moves to 0.5 (0.78 beats 0.70); then c is tried at 0.5 around that centre (0.60: kept out).
    expect(asked).toEqual(['a:0.5,c:1', 'a:0.5,c:0.5']);
    expect(key(tried[chosen]!.stack)).toBe('a:0.5,c:1');
    const passing = tried.filter((p) => p.verdict.verdict === 'promote');
    expect(tried[chosen]!.verdict.candidate_adherence).toBe(Math.max(...passing.map((p) => p.verdict.candidate_adherence)));
  });

  it('stops at the budget, and counts every test it may make up front', async () => {
    const { tried } = await tuneStack(start, [0.25, 0.5, 1], 1, async (stack) => table[key(stack)] ?? verdict('reject', 0.1));
    expect(tried).toHaveLength(2);
    expect(stackTests({ stack_weights: [0.5, 1], stack_points: 6 }, 1)).toBe(4);
    expect(stackTests({ stack_weights: [0.5, 1], stack_points: 3 }, 1)).toBe(3);
    expect(stackTests({ stack_weights: [0.5, 1], stack_points: 6 }, 0)).toBe(0);
    expect(stackTests({ stack_weights: null, stack_points: 6 }, 2)).toBe(0);
  });
});
