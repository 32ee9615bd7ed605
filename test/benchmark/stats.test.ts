import { describe, expect, it } from 'vitest';
import { mcnemarExact, pairedDifferenceInterval, wilson } from '../../stages/benchmark/stats.js';

// Expected values are worked by hand from the textbook formulas (and, where marked, the
// published worked examples), not produced by the code under test.
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

// Tables as {both, baselineOnly, candidateOnly, neither}; Newcombe's (a, b, c, d) has his
// first proportion (a + b) / n, the candidate's here, so his b is candidateOnly.
describe('mcnemarExact', () => {
  it('12 won, 2 lost: P(X >= 12 | Bin(14, 1/2)) = (91 + 14 + 1) / 16384', () => {
    const t = mcnemarExact({ both: 36, baselineOnly: 2, candidateOnly: 12, neither: 0 });
    expect(t.difference).toBeCloseTo(10 / 50, 12);
    expect(t.pGreater).toBeCloseTo(106 / 16384, 12);
    expect(t.pTwoSided).toBeCloseTo(212 / 16384, 12);
  });

  it('4 won, 5 lost: P(X >= 4 | Bin(9, 1/2)) = 1 - (1 + 9 + 36 + 84) / 512; two-sided capped at 1', () => {
    const t = mcnemarExact({ both: 8, baselineOnly: 5, candidateOnly: 4, neither: 9 });
    expect(t.pGreater).toBeCloseTo(382 / 512, 12);
    expect(t.pTwoSided).toBe(1);
  });

  it('5 won, none lost is 1/32 however many prompts agree', () => {
    expect(mcnemarExact({ both: 40, baselineOnly: 0, candidateOnly: 5, neither: 55 }).pGreater).toBeCloseTo(1 / 32, 12);
    expect(mcnemarExact({ both: 4, baselineOnly: 0, candidateOnly: 5, neither: 1 }).pGreater).toBeCloseTo(1 / 32, 12);
  });

  it('no discordant pair is no evidence', () => {
    expect(mcnemarExact({ both: 10, baselineOnly: 0, candidateOnly: 0, neither: 3 })).toEqual({ difference: 0, pGreater: 1, pTwoSided: 1 });
  });
});

describe('pairedDifferenceInterval', () => {
  it('reproduces Newcombe (1998, paired, method 10): a=36 b=12 c=2 d=0 gives 0.0569 to 0.3404', () => {
    const { low, high } = pairedDifferenceInterval({ both: 36, candidateOnly: 12, baselineOnly: 2, neither: 0 });
    expect(low).toBeCloseTo(0.0569, 4);
    expect(high).toBeCloseTo(0.3404, 4);
  });

  it('reproduces a=8 b=5 c=4 d=9: -0.1752 to 0.2463, and its mirror image', () => {
    const forward = pairedDifferenceInterval({ both: 8, candidateOnly: 5, baselineOnly: 4, neither: 9 });
    expect(forward.low).toBeCloseTo(-0.1752, 4);
    expect(forward.high).toBeCloseTo(0.2463, 4);
    const mirror = pairedDifferenceInterval({ both: 8, candidateOnly: 4, baselineOnly: 5, neither: 9 });
    expect(mirror.low).toBeCloseTo(-0.2463, 4);
    expect(mirror.high).toBeCloseTo(0.1752, 4);
  });

  it('reproduces a=1 b=1 c=7 d=12: -0.5017 to -0.0361', () => {
    const { low, high } = pairedDifferenceInterval({ both: 1, candidateOnly: 1, baselineOnly: 7, neither: 12 });
    expect(low).toBeCloseTo(-0.5017, 4);
    expect(high).toBeCloseTo(-0.0361, 4);
  });

  it("excludes zero for 40% -> 45% when the 5 changed prompts all went the candidate's way", () => {
    // Unpaired, 40/100 against 45/100 straddles zero (Newcombe's unpaired method 10: -0.0857 to 0.1831).
    const paired = pairedDifferenceInterval({ both: 40, baselineOnly: 0, candidateOnly: 5, neither: 55 });
    expect(paired.low).toBeGreaterThan(0);
    expect(paired.high).toBeLessThan(0.1831);
  });
});
