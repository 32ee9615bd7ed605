// `--set __proto__.x=1` and friends: refused as bad input naming the argument, and
// Object.prototype is left as it was whichever way the path arrives.
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { applyOverrides, getPath, parseSetArg, setPath } from '../../src/params.js';

const polluted = () => ({} as Record<string, unknown>).polluted;

describe('param paths that reach the prototype', () => {
  it.each(['__proto__.polluted=1', 'a.constructor.prototype.polluted=1', 'prototype=1'])('--set %s is bad input naming the argument', (arg) => {
    let thrown: unknown;
    try {
      parseSetArg(arg);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(InputError);
    expect((thrown as InputError).where.field).toBe(`--set ${arg}`);
    expect(polluted()).toBeUndefined();
  });

  it('setPath and applyOverrides refuse them too, writing nothing', () => {
    expect(() => setPath({}, '__proto__.polluted', 1)).toThrow(InputError);
    expect(() => applyOverrides({}, { 'constructor.prototype.polluted': 1 })).toThrow(InputError);
    expect(polluted()).toBeUndefined();
  });

  it('getPath reads own keys only', () => {
    expect(getPath({}, 'constructor')).toBeUndefined();
    expect(getPath({ a: { b: 1 } }, 'a.b')).toBe(1);
  });
});
