import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hashBytes, hashFile, hashSmallFileSync, stableStringify } from '../../src/hash.js';

const dir = mkdtempSync(join(tmpdir(), 'sdloop-hash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('file hashes', () => {
  it('are the hash of the bytes, the same read whole or streamed', async () => {
    const path = join(dir, 'small.bin');
    const bytes = Buffer.from('a small file\n'.repeat(1000));
    writeFileSync(path, bytes);
    expect(hashSmallFileSync(path, bytes.length)).toBe(hashBytes(bytes));
    expect(await hashFile(path)).toBe(hashBytes(bytes));
  });

  it('hash files over 64 MiB as the hash of their 64 MiB chunks, so they never sit whole in memory', async () => {
    const chunk = 64 << 20;
    const bytes = Buffer.alloc(chunk + 5);
    for (let i = 0; i < bytes.length; i += 4096) bytes[i] = i % 251;
    const path = join(dir, 'large.bin');
    writeFileSync(path, bytes);
    const expected = hashBytes(hashBytes(bytes.subarray(0, chunk)) + hashBytes(bytes.subarray(chunk)));
    expect(await hashFile(path)).toBe(expected);
    const exact = join(dir, 'exact.bin');
    writeFileSync(exact, bytes.subarray(0, chunk));
    expect(await hashFile(exact)).toBe(hashBytes(bytes.subarray(0, chunk)));
  });
});

/** The canonical JSON as it was first defined (a sorting replacer): every table hash ever recorded was made with it. */
function replacerStringify(value: unknown): string {
  return JSON.stringify(value, (_key, v) => {
    if (v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array)) {
      const sorted: Record<string, unknown> = {};
      for (const k of Object.keys(v).sort()) sorted[k] = v[k];
      return sorted;
    }
    if (typeof v === 'bigint') return v.toString();
    return v;
  });
}

describe('stableStringify', () => {
  class Point {
    constructor(readonly y: number, readonly x: number) {}
  }
  const cases: [string, unknown][] = [
    ['a row', { prompt_id: 'p1', seed: 42, text: 'a "quoted"\nline \u2028 ü', ok: true, none: null, gone: undefined }],
    ['nested objects and arrays', { b: [3, { z: 1, a: [null, undefined, () => 1] }], a: { d: { c: 1 } } }],
    ['numbers', { nan: NaN, inf: -Infinity, neg0: -0, big: 2n ** 70n, tiny: 1e-300, frac: 0.1 + 0.2 }],
    ['index-like keys, which JSON lists first in numeric order', { b: 1, '10': 2, '9': 3, '01': 4, a: 5, '4294967295': 6, '4294967294': 7 }],
    ['keys sorting by UTF-16 units', { é: 1, e: 2, Z: 3, _: 4, '': 5, '😀': 6, '\uffff': 7 }],
    ['a JSON-parsed __proto__ key', JSON.parse('{"__proto__": {"x": 1}, "a": 1}')],
    ['dates, typed arrays, maps, class instances, boxed values', { d: new Date(0), u: new Uint8Array([3, 1]), m: new Map([[1, 2]]), p: new Point(2, 1), s: Object('str') }],
    ['an object without a prototype', Object.assign(Object.create(null), { b: 1, a: 2 })],
    ['toJSON returning an object', { t: { toJSON: (key: string) => ({ key, b: 1, a: 2 }) } }],
    ['top-level primitives', 'text'],
    ['an empty object and array', { o: {}, l: [] }],
  ];
  it.each(cases)('writes %s exactly as the sorting replacer did', (_what, value) => {
    expect(stableStringify(value)).toBe(replacerStringify(value));
  });

  it('matches the replacer on generated rows', () => {
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const valueOf = (depth: number): unknown => {
      const r = next();
      if (depth > 2 || r < 0.3) return [null, true, 1.5, -3, 'x', '', undefined][Math.floor(next() * 7)];
      if (r < 0.6) return Array.from({ length: Math.floor(next() * 4) }, () => valueOf(depth + 1));
      return Object.fromEntries(Array.from({ length: Math.floor(next() * 5) }, () => [['a', 'B', '3', '12', 'k_1', 'é'][Math.floor(next() * 6)]!, valueOf(depth + 1)]));
    };
    for (let i = 0; i < 500; i++) {
      const value = valueOf(0);
      expect(stableStringify(value)).toBe(replacerStringify(value));
    }
  });
});
