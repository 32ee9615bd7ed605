// Every random draw in planning comes from here: sfc32 seeded by integer mixing, so the
// same files always plan the same prompts (never Math.random).
import { requireCommonJs } from '../../../src/commonjs.js';

const { xxh3 } = requireCommonJs('@node-rs/xxhash') as typeof import('@node-rs/xxhash');

/** 32-bit integer mix (splitmix32 finaliser). */
function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x21f0aaad);
  x = Math.imul(x ^ (x >>> 15), 0x735a2d97);
  return (x ^ (x >>> 15)) >>> 0;
}

/** A 32-bit number for a text (a placeholder name, a file's content). */
export function hash32(text: string): number {
  return Number(xxh3.xxh64(Buffer.from(text)) & 0xffffffffn);
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** Seeded from any list of integers (base seed, purpose, index...). */
  constructor(...keys: number[]) {
    let h = 0x9e3779b9;
    for (const k of keys) h = mix32(h ^ mix32((k | 0) ^ Math.floor(k / 0x100000000)));
    this.a = mix32(h ^ 1);
    this.b = mix32(h ^ 2);
    this.c = mix32(h ^ 3);
    this.d = 1;
    for (let i = 0; i < 12; i++) this.next();
  }

  /** Uniform 32-bit unsigned integer. */
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform integer in [0, n) for n up to 2^53. */
  below(n: number): number {
    if (n <= 0x100000000) return Math.floor((this.next() / 0x100000000) * n);
    return Math.floor(((this.next() * 0x200000 + (this.next() >>> 11)) / 2 ** 53) * n);
  }

  /** k distinct integers of [0, n), in draw order. */
  sample(n: number, k: number): number[] {
    const picked = new Set<number>();
    const out: number[] = [];
    while (out.length < Math.min(k, n)) {
      const i = this.below(n);
      if (!picked.has(i)) {
        picked.add(i);
        out.push(i);
      }
    }
    return out;
  }
}
