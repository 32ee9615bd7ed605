import { describe, expect, it } from 'vitest';
import { differenceInterval, normalCdf, twoProportionTest, wilson } from '../../stages/benchmark/stats.js';

// Expected values are worked by hand from the textbook formulas (and, where marked, the
// published worked examples), not produced by the code under test.
describe('normalCdf', () => {
  it('matches the standard normal table', () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 7);
    expect(normalCdf(1.96)).toBeCloseTo(0.9750021, 6);
    expect(normalCdf(-1)).toBeCloseTo(0.1586553, 6);
    expect(normalCdf(3)).toBeCloseTo(0.9986501, 6);
  });
});

describe('wilson', () => {
  it('8 of 10: centre (0.8 + 1.9208/10) / 1.38415, half 1.96 * sqrt(0.016 + 0.0096) / 1.38415', () => {
    const { low, high } = wilson(8, 10);
    expect(low).toBeCloseTo(0.4902, 4);
    expect(high).toBeCloseTo(0.9433, 4);
  });

  it('0 of 10 keeps the lower bound at 0 and a non-zero upper bound', () => {
    const { low, high } = wilson(0, 10);
    expect(low).toBe(0);
    expect(high).toBeCloseTo(0.2775, 4);
  });

  it('50 of 100 is symmetric around one half', () => {
    const { low, high } = wilson(50, 100);
    expect(low).toBeCloseTo(0.4038, 4);
    expect(high).toBeCloseTo(0.5962, 4);
  });

  it('knows nothing from no trials', () => {
    expect(wilson(0, 0)).toEqual({ low: 0, high: 1 });
  });
});

describe('twoProportionTest', () => {
  it('40/100 against 55/100: pooled 0.475, se 0.070622, z 2.1240', () => {
    const t = twoProportionTest({ successes: 40, n: 100 }, { successes: 55, n: 100 });
    expect(t.difference).toBeCloseTo(0.15, 10);
    expect(t.z).toBeCloseTo(2.12398, 4);
    expect(t.pGreater).toBeCloseTo(0.01684, 4);
    expect(t.pTwoSided).toBeCloseTo(0.03367, 4);
  });

  it('a drop gives a large one-sided p', () => {
    const t = twoProportionTest({ successes: 55, n: 100 }, { successes: 40, n: 100 });
    expect(t.pGreater).toBeCloseTo(1 - 0.01684, 4);
  });

  it('identical all-success arms are no evidence either way', () => {
    expect(twoProportionTest({ successes: 10, n: 10 }, { successes: 10, n: 10 })).toEqual({ difference: 0, z: 0, pGreater: 0.5, pTwoSided: 1 });
  });
});

describe('differenceInterval', () => {
  it('reproduces Newcombe (1998) worked example 56/70 vs 48/80: 0.0524 to 0.3339', () => {
    const { low, high } = differenceInterval({ successes: 48, n: 80 }, { successes: 56, n: 70 });
    expect(low).toBeCloseTo(0.0524, 4);
    expect(high).toBeCloseTo(0.3339, 4);
  });

  it('40/100 to 55/100: 0.0117 to 0.2804', () => {
    const { low, high } = differenceInterval({ successes: 40, n: 100 }, { successes: 55, n: 100 });
    expect(low).toBeCloseTo(0.0117, 4);
    expect(high).toBeCloseTo(0.2804, 4);
  });
});
