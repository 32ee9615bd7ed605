// The (saved epoch, weight) points a benchmark tries: every file train saved (the final
// LoRA and, with train.save_every_n_epochs, the earlier epochs) at every weight in
// benchmark.weights. Each point is judged against the same baseline with the same paired
// test, at alpha / points (Bonferroni: trying more points must not make a lucky one
// easier to promote), and the best point that passes is the one promoted.
import type { z } from 'zod';
import type { benchmarkPointRow, LoraInfoRow } from '../../schemas/tables.js';
import type { PointVerdict } from './verdict.js';

export type BenchmarkPointRow = z.infer<typeof benchmarkPointRow>;

export interface Point {
  lora: LoraInfoRow;
  weight: number;
}

export function pointsOf(files: LoraInfoRow[], weights: number[]): Point[] {
  const byEpoch = [...files].sort((a, b) => a.epoch - b.epoch);
  return byEpoch.flatMap((lora) => [...new Set(weights)].sort((a, b) => a - b).map((weight) => ({ lora, weight })));
}

/**
 * The point to promote: one that passed, with the highest adherence; ties go to the
 * stronger evidence, then the lower weight and the earlier epoch (the lighter touch).
 * When none passed, the best-scoring one, so the reason says why even it failed.
 */
export function choosePoint(points: Point[], verdicts: PointVerdict[]): number {
  const order = points.map((_, i) => i).sort((a, b) => {
    const va = verdicts[a]!;
    const vb = verdicts[b]!;
    return (Number(vb.verdict === 'promote') - Number(va.verdict === 'promote'))
      || (vb.candidate_adherence - va.candidate_adherence)
      || (va.p_value - vb.p_value)
      || (points[a]!.weight - points[b]!.weight)
      || (points[a]!.lora.epoch - points[b]!.lora.epoch);
  });
  return order[0]!;
}

export function pointRows(points: Point[], verdicts: PointVerdict[], chosen: number): BenchmarkPointRow[] {
  return points.map((p, i) => {
    const v = verdicts[i]!;
    return {
      lora: p.lora.name,
      epoch: p.lora.epoch,
      weight: p.weight,
      candidate_adherence: v.candidate_adherence,
      difference: v.difference,
      p_value: v.p_value,
      worst_regression: v.worst_regression,
      worst_diversity_fall: v.worst_diversity_fall,
      verdict: v.verdict,
      reason: v.reason,
      chosen: i === chosen,
    };
  });
}

/** Says which point was chosen when there was a choice; one point reads as before. */
export function pointPrefix(points: Point[], chosen: number, alpha: number, tests = points.length): string {
  if (points.length === 1) return '';
  const p = points[chosen]!;
  return `epoch ${p.lora.epoch} at weight ${p.weight} (${p.lora.name}, the best of ${points.length} epoch x weight points, each tested at alpha ${Number((alpha / tests).toPrecision(3))}): `;
}
