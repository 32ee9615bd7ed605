import { describe, expect, it } from 'vitest';
import { agreementRows, cohensKappa } from '../../stages/benchmark/agreement.js';
import { labelKey } from '../../stages/classify/human-labels.js';

const repeat = (pair: [string, string], n: number): [string, string][] => Array.from({ length: n }, () => pair);

describe('cohensKappa', () => {
  it('the textbook 2x2: 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no gives po 0.7, pe 0.5, kappa 0.4', () => {
    const k = cohensKappa([...repeat(['yes', 'yes'], 20), ...repeat(['yes', 'no'], 5), ...repeat(['no', 'yes'], 10), ...repeat(['no', 'no'], 15)]);
    expect(k.n).toBe(50);
    expect(k.observed).toBeCloseTo(0.7, 12);
    // pe = 0.5 * 0.6 + 0.5 * 0.4
    expect(k.expected).toBeCloseTo(0.5, 12);
    expect(k.kappa).toBeCloseTo(0.4, 12);
  });

  it('three values: 9 of 12 on the diagonal; pe = (4*5 + 4*4 + 4*3) / 144 = 1/3, kappa = (3/4 - 1/3) / (2/3) = 0.625', () => {
    const pairs: [string, string][] = [
      ...repeat(['red', 'red'], 3), ['red', 'blonde'],
      ...repeat(['blonde', 'blonde'], 3), ['blonde', 'red'],
      ...repeat(['black', 'black'], 3), ['black', 'red'],
    ];
    const k = cohensKappa(pairs);
    expect(k.observed).toBeCloseTo(0.75, 12);
    expect(k.expected).toBeCloseTo(48 / 144, 12);
    expect(k.kappa).toBeCloseTo(0.625, 12);
  });

  it('is undefined when both raters only ever give one value', () => {
    expect(cohensKappa(repeat(['red', 'red'], 4))).toEqual({ n: 4, observed: 1, expected: 1, kappa: null });
  });
});

describe('agreementRows', () => {
  it('counts only labelled, unrejected images, one row per axis', () => {
    const labels = { rejected: new Set(['c']), values: new Map([[labelKey('a', 'Hair'), 'red'], [labelKey('b', 'Hair'), 'blonde'], [labelKey('c', 'Hair'), 'red']]) };
    const rows = agreementRows('score', [
      { image_id: 'a', axis: 'Hair', top_value: 'red' },
      { image_id: 'b', axis: 'Hair', top_value: 'red' },
      { image_id: 'c', axis: 'Hair', top_value: 'red' },
      { image_id: 'd', axis: 'Hair', top_value: 'red' },
    ], labels);
    // pairs (red, red), (blonde, red): po 1/2, pe = 1/2 * 1 + 1/2 * 0 = 1/2, kappa 0
    expect(rows).toEqual([{ rater: 'score', axis: 'Hair', n: 2, observed: 0.5, expected: 0.5, kappa: 0 }]);
  });
});
