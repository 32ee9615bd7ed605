import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { decodeRgb } from '../../adapters/clip-preprocess.js';
import {
  aestheticScore,
  frameFlags,
  hammingDistance,
  nearDuplicateGroups,
  pixelChecks,
  qualityThresholds,
  readAestheticHead,
} from '../../stages/score/quality.js';

const thresholds = qualityThresholds.parse({});

/** A picture with edges: seeded rectangles of random colours on a gradient. */
function busyPixels(seed: number, width = 256, height = 384): Buffer {
  let s = seed;
  const rand = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set([x, y % 256, 128], (y * width + x) * 3);
  for (let r = 0; r < 30; r++) {
    const [x0, y0] = [Math.floor(rand() * width), Math.floor(rand() * height)];
    const [w, h] = [10 + Math.floor(rand() * 60), 10 + Math.floor(rand() * 60)];
    const colour = [rand() * 255, rand() * 255, rand() * 255].map(Math.floor);
    for (let y = y0; y < Math.min(height, y0 + h); y++)
      for (let x = x0; x < Math.min(width, x0 + w); x++) data.set(colour, (y * width + x) * 3);
  }
  return data;
}

const raw = { raw: { width: 256, height: 384, channels: 3 as const } };
const checksOf = async (png: Buffer) => pixelChecks(await decodeRgb(png));

describe('quality checks', () => {
  it('finds black and uniform frames, and passes a normal picture', async () => {
    const black = await checksOf(await sharp({ create: { width: 64, height: 96, channels: 3, background: { r: 2, g: 1, b: 3 } } }).png().toBuffer());
    expect(frameFlags(black, thresholds)).toMatchObject({ black: true, uniform: true, blank: true });
    const grey = await checksOf(await sharp({ create: { width: 64, height: 96, channels: 3, background: '#8090a0' } }).png().toBuffer());
    expect(frameFlags(grey, thresholds)).toMatchObject({ black: false, uniform: true, blank: true });
    const busy = await checksOf(await sharp(busyPixels(1), raw).png().toBuffer());
    expect(frameFlags(busy, thresholds)).toMatchObject({ black: false, uniform: false, blank: false, blurred: false });
  });

  it('measures blur as a drop in Laplacian variance', async () => {
    const sharpPng = await sharp(busyPixels(2), raw).png().toBuffer();
    const blurredPng = await sharp(busyPixels(2), raw).blur(4).png().toBuffer();
    const [a, b] = [await checksOf(sharpPng), await checksOf(blurredPng)];
    expect(b.blur).toBeLessThan(a.blur / 10);
    expect(frameFlags(b, thresholds).blurred).toBe(true);
  });

  it('groups near duplicates by perceptual hash and keeps distinct pictures apart', async () => {
    const original = busyPixels(3);
    const noisy = Buffer.from(original);
    for (let i = 0; i < noisy.length; i += 7) noisy[i] = Math.min(255, noisy[i] + 6);
    const rows = [
      { image_id: 'b-original', phash: (await checksOf(await sharp(original, raw).png().toBuffer())).phash },
      { image_id: 'a-noisy', phash: (await checksOf(await sharp(noisy, raw).png().toBuffer())).phash },
      { image_id: 'c-smaller', phash: (await checksOf(await sharp(original, raw).resize(128, 192).png().toBuffer())).phash },
      { image_id: 'd-other', phash: (await checksOf(await sharp(busyPixels(4), raw).png().toBuffer())).phash },
      { image_id: 'e-other', phash: (await checksOf(await sharp(busyPixels(5), raw).png().toBuffer())).phash },
    ];
    expect(hammingDistance(rows[0].phash, rows[1].phash)).toBeLessThanOrEqual(thresholds.duplicate_distance);
    expect(hammingDistance(rows[0].phash, rows[3].phash)).toBeGreaterThan(thresholds.duplicate_distance);
    const groups = nearDuplicateGroups(rows, thresholds.duplicate_distance);
    expect(groups.get('b-original')).toBe('a-noisy');
    expect(groups.get('a-noisy')).toBe('a-noisy');
    expect(groups.get('c-smaller')).toBe('a-noisy');
    expect(groups.has('d-other')).toBe(false);
    expect(groups.has('e-other')).toBe(false);
  });

  it('scores aesthetics with a user-given linear head of the right size', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sdloop-quality-'));
    const file = join(dir, 'head.json');
    writeFileSync(file, JSON.stringify({ weights: [1, 2, 0], bias: 0.5 }));
    const head = readAestheticHead(file, 3);
    expect(aestheticScore(head, new Float32Array([0.6, 0.8, 0]))).toBeCloseTo(2.7, 5);
    expect(() => readAestheticHead(file, 4)).toThrow(/expected 4 weights/);
  });
});
