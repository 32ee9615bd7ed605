// The statistics the benchmark decides with: Wilson score intervals for a success rate,
// Newcombe's interval for a difference of rates, and the pooled two-proportion z test.

/** z for a two-sided 95% interval (the 0.975 quantile of the standard normal). */
export const Z95 = 1.959963984540054;

/**
 * Complementary error function, Numerical Recipes' Chebyshev fit (erfccheb): relative
 * error below 1.2e-7 everywhere, plenty for p-values compared with 0.05.
 */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const poly =
    -z * z - 1.26551223 +
    t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
    t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  const value = t * Math.exp(poly);
  return x >= 0 ? value : 2 - value;
}

/** P(Z <= z) for a standard normal Z. */
export function normalCdf(z: number): number {
  return 0.5 * erfc(-z / Math.SQRT2);
}

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

export interface Proportion {
  successes: number;
  n: number;
}

const rateOf = (p: Proportion) => (p.n === 0 ? 0 : p.successes / p.n);

/** Newcombe's hybrid score interval (his method 10) for rate(b) - rate(a). */
export function differenceInterval(a: Proportion, b: Proportion, z = Z95): Interval {
  const pa = rateOf(a);
  const pb = rateOf(b);
  const wa = wilson(a.successes, a.n, z);
  const wb = wilson(b.successes, b.n, z);
  const d = pb - pa;
  return {
    low: d - Math.sqrt((pb - wb.low) ** 2 + (wa.high - pa) ** 2),
    high: d + Math.sqrt((wb.high - pb) ** 2 + (pa - wa.low) ** 2),
  };
}

export interface TwoProportionTest {
  difference: number;
  z: number;
  /** H1: rate(b) > rate(a) */
  pGreater: number;
  pTwoSided: number;
}

/** Pooled two-proportion z test of rate(b) against rate(a). */
export function twoProportionTest(a: Proportion, b: Proportion): TwoProportionTest {
  const difference = rateOf(b) - rateOf(a);
  const pooled = (a.successes + b.successes) / (a.n + b.n || 1);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / (a.n || 1) + 1 / (b.n || 1)));
  // With no spread at all (every trial of both arms alike) nothing is evidence of a change.
  if (se === 0 || a.n === 0 || b.n === 0) return { difference, z: 0, pGreater: 0.5, pTwoSided: 1 };
  const z = difference / se;
  return { difference, z, pGreater: 1 - normalCdf(z), pTwoSided: 2 * (1 - normalCdf(Math.abs(z))) };
}
