import { describe, expect, it } from 'vitest';
import { pickTarget } from '../../commands/loop-targeted.js';

describe('pickTarget', () => {
  it('takes the lowest Wilson upper bound, not the lowest rate', () => {
    // 0 of 3: rate 0 but upper bound 0.5615; 10 of 40: rate 0.25, upper bound 0.4019.
    const t = pickTarget([
      { axis: 'Hair', value: 'red', n: 3, successes: 0 },
      { axis: 'Hair', value: 'blue', n: 40, successes: 10 },
      { axis: 'Eyes', value: 'green', n: 40, successes: 30 },
    ], 3)!;
    expect([t.axis, t.value, t.rate]).toEqual(['Hair', 'blue', 0.25]);
    expect(t.upper).toBeCloseTo(0.4019, 4);
  });

  it('leaves out values with fewer than min_images, and has no target when none qualify', () => {
    const tallies = [{ axis: 'Hair', value: 'red', n: 3, successes: 0 }, { axis: 'Hair', value: 'blue', n: 9, successes: 8 }];
    expect(pickTarget(tallies, 4)!.value).toBe('blue');
    expect(pickTarget(tallies, 10)).toBeNull();
  });

  it('only targets values the benchmark renders, so their micro-LoRA can be judged', () => {
    const tallies = [{ axis: 'TimeOfDay', value: 'Noon', n: 20, successes: 2 }, { axis: 'Hair', value: 'red', n: 20, successes: 10 }];
    expect(pickTarget(tallies, 1)!.value).toBe('Noon');
    expect(pickTarget(tallies, 1, { Hair: { red: 'red hair', blue: 'blue hair' } })!.value).toBe('red');
  });

  it('breaks ties by axis and value', () => {
    const same = { n: 10, successes: 2 };
    expect(pickTarget([{ axis: 'Hair', value: 'b', ...same }, { axis: 'Hair', value: 'a', ...same }, { axis: 'Zed', value: 'a', ...same }], 1)!.value).toBe('a');
  });
});
