// Weight-free image quality checks: blank / uniform / black frames, a blur measure
// (variance of the Laplacian), a perceptual hash with near-duplicate grouping, and an
// optional aesthetic score from a user-given linear head on the CLIP embedding.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { InputError } from '../../src/errors.js';
import type { RgbImage } from '../../adapters/clip-preprocess.js';

/** Bump when pixelChecks computes differently: stored checks are keyed by it. */
export const PIXEL_CHECKS_VERSION = '1';

export interface PixelChecks {
  /** mean and standard deviation of luma, 0..255 */
  mean: number;
  std: number;
  /** variance of the 4-neighbour Laplacian of luma: low means few sharp edges */
  blur: number;
  /** 64-bit DCT perceptual hash, 16 hex digits */
  phash: string;
}

export function luma(image: RgbImage): Float32Array {
  const { data, width, height } = image;
  const out = new Float32Array(width * height);
  for (let i = 0, p = 0; i < out.length; i++, p += 3) out[i] = 0.299 * data[p] + 0.587 * data[p + 1] + 0.114 * data[p + 2];
  return out;
}

function meanStd(values: Float32Array): [number, number] {
  let sum = 0;
  let sq = 0;
  for (const v of values) {
    sum += v;
    sq += v * v;
  }
  const mean = sum / values.length;
  return [mean, Math.sqrt(Math.max(0, sq / values.length - mean * mean))];
}

export function laplacianVariance(grey: Float32Array, width: number, height: number): number {
  if (width < 3 || height < 3) return 0;
  let sum = 0;
  let sq = 0;
  let n = 0;
  for (let y = 1; y < height - 1; y++) {
    for (let x = 1, i = y * width + 1; x < width - 1; x++, i++) {
      const lap = grey[i - 1] + grey[i + 1] + grey[i - width] + grey[i + width] - 4 * grey[i];
      sum += lap;
      sq += lap * lap;
      n++;
    }
  }
  const mean = sum / n;
  return sq / n - mean * mean;
}

/** Box-average luma down to size x size (every source pixel counts once). */
export function shrink(grey: Float32Array, width: number, height: number, size: number): Float32Array {
  const sums = new Float64Array(size * size);
  const counts = new Uint32Array(size * size);
  for (let y = 0; y < height; y++) {
    const row = Math.floor((y * size) / height) * size;
    for (let x = 0; x < width; x++) {
      const bin = row + Math.floor((x * size) / width);
      sums[bin] += grey[y * width + x];
      counts[bin]++;
    }
  }
  return Float32Array.from(sums, (s, i) => (counts[i] ? s / counts[i] : 0));
}

const DCT_SIZE = 32;
const HASH_SIZE = 8;
const cosTable = Float64Array.from({ length: HASH_SIZE * DCT_SIZE }, (_, i) => {
  const u = Math.floor(i / DCT_SIZE);
  const x = i % DCT_SIZE;
  return Math.cos(((2 * x + 1) * u * Math.PI) / (2 * DCT_SIZE));
});

/** pHash: the 8x8 lowest DCT frequencies of a 32x32 luma thumbnail against their median. */
export function perceptualHash(grey: Float32Array, width: number, height: number): string {
  const small = shrink(grey, width, height, DCT_SIZE);
  const coeffs: number[] = [];
  for (let v = 0; v < HASH_SIZE; v++) {
    for (let u = 0; u < HASH_SIZE; u++) {
      let s = 0;
      for (let y = 0; y < DCT_SIZE; y++) {
        const cy = cosTable[v * DCT_SIZE + y];
        for (let x = 0; x < DCT_SIZE; x++) s += small[y * DCT_SIZE + x] * cosTable[u * DCT_SIZE + x] * cy;
      }
      coeffs.push(s);
    }
  }
  // The DC term says only how bright the picture is; leave it out of the median.
  const median = [...coeffs.slice(1)].sort((a, b) => a - b)[Math.floor((coeffs.length - 1) / 2)];
  let hash = 0n;
  for (const c of coeffs) hash = (hash << 1n) | (c > median ? 1n : 0n);
  return hash.toString(16).padStart(16, '0');
}

export function hammingDistance(a: string, b: string): number {
  const [x, y] = [hashWords(a), hashWords(b)];
  return popcount32(x[0] ^ y[0]) + popcount32(x[1] ^ y[1]);
}

export function pixelChecks(image: RgbImage): PixelChecks {
  const grey = luma(image);
  const [mean, std] = meanStd(grey);
  return {
    mean,
    std,
    blur: laplacianVariance(grey, image.width, image.height),
    phash: perceptualHash(grey, image.width, image.height),
  };
}

export const qualityThresholds = z.object({
  /** luma below this mean is a black frame */
  black_mean: z.number().default(10),
  /** luma standard deviation below this is a uniform frame */
  uniform_std: z.number().default(3),
  /**
   * Laplacian variance (luma 0..255) below this is blurred. Flat-shaded pictures (the demo
   * renders: 14-165) sit far lower than photographs (hundreds and up), so the default flags
   * only pictures with almost no edges; raise it for photographic models.
   */
  blur: z.number().default(10),
  /** pHash Hamming distance at or under which two images are near duplicates */
  duplicate_distance: z.number().int().min(0).max(64).default(6),
});
export type QualityThresholds = z.infer<typeof qualityThresholds>;

export function frameFlags(c: PixelChecks, t: QualityThresholds) {
  const black = c.mean < t.black_mean;
  const uniform = c.std < t.uniform_std;
  return { black, uniform, blank: black || uniform, blurred: c.blur < t.blur };
}

function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
}

function hashWords(phash: string): [number, number] {
  return [parseInt(phash.slice(0, 8), 16) >>> 0, parseInt(phash.slice(8, 16), 16) >>> 0];
}

/** Bits [from, to) of the 64-bit hash as a bucket key. */
function bitRange(words: [number, number], from: number, to: number): string {
  let key = '';
  for (let b = from; b < to; b++) key += (words[b >> 5] >>> (31 - (b & 31))) & 1;
  return key;
}

/**
 * Near-duplicate groups: images linked by pHash distance <= maxDistance, transitively.
 * Returns each grouped image's group (the smallest image_id in it); singletons are absent.
 * Candidates come from multi-index hashing: two hashes within distance d agree exactly on
 * at least one of d + 1 disjoint bit ranges, so only bucket-mates are compared.
 */
export function nearDuplicateGroups(rows: { image_id: string; phash: string }[], maxDistance: number): Map<string, string> {
  const parent = rows.map((_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]];
    return i;
  };
  const words = rows.map((r) => hashWords(r.phash));
  const parts = Math.min(64, maxDistance + 1);
  for (let p = 0; p < parts; p++) {
    const from = Math.floor((p * 64) / parts);
    const to = Math.floor(((p + 1) * 64) / parts);
    const buckets = new Map<string, number[]>();
    words.forEach((w, i) => {
      const key = bitRange(w, from, to);
      const bucket = buckets.get(key);
      if (bucket) bucket.push(i);
      else buckets.set(key, [i]);
    });
    for (const bucket of buckets.values()) {
      for (let a = 0; a < bucket.length; a++) {
        for (let b = a + 1; b < bucket.length; b++) {
          const [i, j] = [bucket[a], bucket[b]];
          const d = popcount32(words[i][0] ^ words[j][0]) + popcount32(words[i][1] ^ words[j][1]);
          if (d <= maxDistance) parent[find(i)] = find(j);
        }
      }
    }
  }
  const members = new Map<number, string[]>();
  rows.forEach((r, i) => members.set(find(i), [...(members.get(find(i)) ?? []), r.image_id]));
  const groups = new Map<string, string>();
  for (const ids of members.values()) {
    if (ids.length < 2) continue;
    const group = ids.reduce((a, b) => (a < b ? a : b));
    for (const id of ids) groups.set(id, group);
  }
  return groups;
}

const aestheticHeadFile = z.object({ weights: z.array(z.number()).min(1), bias: z.number().default(0) });
export type AestheticHead = z.infer<typeof aestheticHeadFile>;

/** A linear head over the unit image embedding, e.g. LAION's aesthetic predictor's weights. */
export function readAestheticHead(file: string, dim: number): AestheticHead {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new InputError(`expected a JSON file {"weights": [...], "bias": n}: ${(err as Error).message}`, {
      file,
      field: 'score.aesthetic_head',
    });
  }
  const head = aestheticHeadFile.safeParse(raw);
  if (!head.success) {
    throw new InputError('expected {"weights": number[], "bias": number}', { file, field: 'score.aesthetic_head' });
  }
  if (head.data.weights.length !== dim) {
    throw new InputError(`expected ${dim} weights (the model's embedding size), found ${head.data.weights.length}`, {
      file,
      field: 'weights',
    });
  }
  return head.data;
}

export function aestheticScore(head: AestheticHead, embedding: Float32Array): number {
  let s = head.bias;
  for (let i = 0; i < embedding.length; i++) s += head.weights[i] * embedding[i];
  return s;
}
