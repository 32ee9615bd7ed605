import { describe, expect, it } from 'vitest';
import { diversityRows, spread, worstDiversityFall } from '../../stages/benchmark/diversity.js';

const s = Math.SQRT1_2;

describe('spread', () => {
  it('three unit vectors: distances 1 - cos are 1, 1 - 1/sqrt2, 1 - 1/sqrt2; none within 0.01', () => {
    const out = spread([[1, 0], [0, 1], [s, s]], 0.01);
    expect(out.mean_distance).toBeCloseTo((1 + 2 * (1 - s)) / 3, 12);
    expect(out.near_duplicate_rate).toBe(0);
  });

  it('two identical of four are near duplicates: rate 2/4', () => {
    const out = spread([[1, 0], [1, 0], [0, 1], [-1, 0]], 0.01);
    // pairs: 0, 1, 2, 1, 2, 1 -> mean 7/6
    expect(out.mean_distance).toBeCloseTo(7 / 6, 12);
    expect(out.near_duplicate_rate).toBe(0.5);
  });

  it('has no spread under two images', () => {
    expect(spread([[1, 0]], 0.01)).toEqual({ mean_distance: null, near_duplicate_rate: 0 });
  });
});

describe('worstDiversityFall', () => {
  it('is the value whose spread fell most relative to its baseline', () => {
    const rows = diversityRows([
      { arm: 'baseline', axis: 'Hair', value: 'red', embedding: [1, 0] },
      { arm: 'baseline', axis: 'Hair', value: 'red', embedding: [0, 1] },
      { arm: 'candidate', axis: 'Hair', value: 'red', embedding: [1, 0] },
      { arm: 'candidate', axis: 'Hair', value: 'red', embedding: [s, s] },
      { arm: 'baseline', axis: 'Hair', value: 'blonde', embedding: [1, 0] },
      { arm: 'baseline', axis: 'Hair', value: 'blonde', embedding: [-1, 0] },
      { arm: 'candidate', axis: 'Hair', value: 'blonde', embedding: [1, 0] },
      { arm: 'candidate', axis: 'Hair', value: 'blonde', embedding: [0, 1] },
    ], 0.01);
    expect(rows.map((r) => [r.arm, r.value, r.mean_distance])).toEqual([
      ['baseline', 'blonde', 2], ['baseline', 'red', 1], ['candidate', 'blonde', 1], ['candidate', 'red', 0.292893],
    ]);
    // red: (1 - 0.292893) / 1 = 0.707; blonde: (2 - 1) / 2 = 0.5
    const worst = worstDiversityFall(rows)!;
    expect(worst).toMatchObject({ axis: 'Hair', value: 'red', before: 1 });
    expect(worst.fall).toBeCloseTo(1 - 0.292893, 6);
  });
});
