// The statistics the benchmark decides with: Wilson score intervals for a success rate,
// and, because both arms render the same prompts on the same seeds, paired statistics of
// the change: McNemar's exact test and Newcombe's paired interval.

/** z for a two-sided 95% interval (the 0.975 quantile of the standard normal). */
export const Z95 = 1.959963984540054;

export interface Interval {
  low: number;
  high: number;
}

/** Wilson score interval for `successes` out of `n`; the whole [0, 1] when n is 0. */
export function wilson(successes: number, n: number, z = Z95): Interval {
  if (n === 0) return { low: 0, high: 1 };
  const p = successes / n;
  const z2 = z * z;
  const denominator = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denominator;
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denominator;
  return { low: Math.max(0, centre - half), high: Math.min(1, centre + half) };
}

/**
 * A paired 2x2 table over prompts rendered on the same seed in both arms: `both` and
 * `neither` succeeded in both / neither arm; `baselineOnly` succeeded without the LoRA
 * and failed with it; `candidateOnly` the reverse.
 */
export interface PairedTable {
  both: number;
  baselineOnly: number;
  candidateOnly: number;
  neither: number;
}

export interface McNemarTest {
  /** rate(candidate) - rate(baseline) = (candidateOnly - baselineOnly) / n */
  difference: number;
  /** H1: the candidate succeeds more often; P(X >= candidateOnly), X ~ Bin(discordant, 1/2) */
  pGreater: number;
  pTwoSided: number;
}

/** log C(n, k), summed directly: discordant counts stay in the hundreds. */
function logChoose(n: number, k: number): number {
  let total = 0;
  for (let i = 1; i <= k; i++) total += Math.log(n - k + i) - Math.log(i);
  return total;
}

/** P(X >= k) for X ~ Binomial(n, 1/2). */
function binomialHalfUpperTail(k: number, n: number): number {
  let p = 0;
  for (let i = Math.max(0, k); i <= n; i++) p += Math.exp(logChoose(n, i) - n * Math.LN2);
  return Math.min(1, p);
}

/**
 * McNemar's exact test: under "the LoRA changes nothing" each discordant pair is as likely
 * to favour either arm, so only the discordant pairs carry evidence and the concordant
 * ones (most of a benchmark) do not dilute it the way an unpaired test lets them.
 */
export function mcnemarExact(t: PairedTable): McNemarTest {
  const n = t.both + t.baselineOnly + t.candidateOnly + t.neither;
  const discordant = t.baselineOnly + t.candidateOnly;
  const difference = n === 0 ? 0 : (t.candidateOnly - t.baselineOnly) / n;
  if (discordant === 0) return { difference, pGreater: 1, pTwoSided: 1 };
  const upper = binomialHalfUpperTail(t.candidateOnly, discordant);
  const lower = binomialHalfUpperTail(t.baselineOnly, discordant);
  return { difference, pGreater: upper, pTwoSided: Math.min(1, 2 * Math.min(upper, lower)) };
}

/**
 * Newcombe's interval for a difference of paired proportions (1998, method 10): the two
 * marginal Wilson intervals combined with the correlation phi of the 2x2 table, which
 * narrows the interval as much as the pairing removes seed-to-seed noise.
 */
export function pairedDifferenceInterval(t: PairedTable, z = Z95): Interval {
  const n = t.both + t.baselineOnly + t.candidateOnly + t.neither;
  if (n === 0) return { low: -1, high: 1 };
  const cand = t.both + t.candidateOnly;
  const base = t.both + t.baselineOnly;
  const pc = cand / n;
  const pb = base / n;
  const wc = wilson(cand, n, z);
  const wb = wilson(base, n, z);
  const margins = (t.both + t.baselineOnly) * (t.candidateOnly + t.neither) * (t.both + t.candidateOnly) * (t.baselineOnly + t.neither);
  const phi = margins === 0 ? 0 : (t.both * t.neither - t.baselineOnly * t.candidateOnly) / Math.sqrt(margins);
  const d = pc - pb;
  const below = (pc - wc.low) ** 2 - 2 * phi * (pc - wc.low) * (wb.high - pb) + (wb.high - pb) ** 2;
  const above = (wc.high - pc) ** 2 - 2 * phi * (wc.high - pc) * (pb - wb.low) + (pb - wb.low) ** 2;
  return { low: Math.max(-1, d - Math.sqrt(Math.max(0, below))), high: Math.min(1, d + Math.sqrt(Math.max(0, above))) };
}
