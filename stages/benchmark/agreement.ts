// How far people agree with a scorer on the benchmark's own pictures: Cohen's kappa per
// axis between a person's label and the value the scorer read. Raw agreement flatters a
// scorer on a lopsided axis (always saying the common value agrees often); kappa removes
// the agreement the two marginals alone would give.
import type { z } from 'zod';
import type { benchmarkAgreementRow } from '../../schemas/tables.js';
import { labelKey, type HumanLabels } from '../classify/human-labels.js';

export type AgreementRow = z.infer<typeof benchmarkAgreementRow>;

export interface Reading {
  image_id: string;
  axis: string;
  /** what the scorer read; '' for a frame it could not read (blank) */
  top_value: string;
}

export interface Kappa {
  n: number;
  observed: number;
  expected: number;
  kappa: number | null;
}

/** Cohen's kappa of two raters over the same items, given as [first, second] pairs. */
export function cohensKappa(pairs: [string, string][]): Kappa {
  const n = pairs.length;
  if (n === 0) return { n, observed: 0, expected: 0, kappa: null };
  const first = new Map<string, number>();
  const second = new Map<string, number>();
  let same = 0;
  for (const [a, b] of pairs) {
    first.set(a, (first.get(a) ?? 0) + 1);
    second.set(b, (second.get(b) ?? 0) + 1);
    if (a === b) same++;
  }
  const observed = same / n;
  let expected = 0;
  for (const [value, count] of first) expected += (count / n) * ((second.get(value) ?? 0) / n);
  return { n, observed, expected, kappa: expected === 1 ? null : (observed - expected) / (1 - expected) };
}

/** One row per axis that has labelled benchmark images; none when nobody labelled them. */
export function agreementRows(rater: AgreementRow['rater'], readings: Reading[], labels: HumanLabels): AgreementRow[] {
  const byAxis = new Map<string, [string, string][]>();
  for (const r of readings) {
    const human = labels.values.get(labelKey(r.image_id, r.axis));
    if (human === undefined || labels.rejected.has(r.image_id)) continue;
    byAxis.set(r.axis, [...(byAxis.get(r.axis) ?? []), [human, r.top_value]]);
  }
  return [...byAxis.keys()].sort().map((axis) => ({ rater, axis, ...cohensKappa(byAxis.get(axis)!) }));
}
