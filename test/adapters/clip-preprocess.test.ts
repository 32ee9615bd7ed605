import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import {
  CLIP_MEAN,
  CLIP_STD,
  preprocessFromConfig,
  preprocessImage,
  resizedSize,
} from '../../adapters/clip-preprocess.js';

const clip = preprocessFromConfig({});

async function png(width: number, height: number, pixel: (x: number, y: number) => number[]): Promise<Uint8Array> {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) data.set(pixel(x, y), (y * width + x) * 3);
  return sharp(data, { raw: { width, height, channels: 3 } }).png().toBuffer();
}

const norm = (v: number, ch: number) => (v / 255 - CLIP_MEAN[ch]) / CLIP_STD[ch];
const at = (t: Float32Array, ch: number, y: number, x: number, size = 224) => t[ch * size * size + y * size + x];

describe('CLIP preprocessing', () => {
  it('reads sizes in both preprocessor_config.json forms', () => {
    expect(preprocessFromConfig({ size: 224, crop_size: 224 })).toMatchObject({ shortestEdge: 224, cropWidth: 224 });
    expect(preprocessFromConfig({ size: { shortest_edge: 336 }, crop_size: { height: 336, width: 336 } })).toMatchObject({
      shortestEdge: 336,
      cropHeight: 336,
    });
    expect(() => preprocessFromConfig({ image_mean: [0.5] }, 'p.json')).toThrow(/expected a CLIP preprocessor config/);
  });

  it('turns a 224x224 image into the hand-computed NCHW tensor', async () => {
    const bytes = await png(224, 224, (x, y) => [x, y, (x + y) % 256]);
    const t = await preprocessImage(bytes, clip);
    expect(t).toHaveLength(3 * 224 * 224);
    for (const [x, y] of [[0, 0], [5, 9], [223, 100], [150, 223]]) {
      expect(at(t, 0, y, x)).toBeCloseTo(norm(x, 0), 5);
      expect(at(t, 1, y, x)).toBeCloseTo(norm(y, 1), 5);
      expect(at(t, 2, y, x)).toBeCloseTo(norm((x + y) % 256, 2), 5);
    }
  });

  it('centre-crops with floored offsets', async () => {
    // 301 wide: (301 - 224) / 2 = 38.5, floored to 38; 227 high: offset 1.
    const bytes = await png(301, 224, (x) => [x % 256, 0, 0]);
    const t = await preprocessImage(bytes, clip);
    expect(at(t, 0, 0, 0)).toBeCloseTo(norm(38, 0), 5);
    expect(at(t, 0, 0, 223)).toBeCloseTo(norm(261 % 256, 0), 5);
    const tall = await preprocessImage(await png(224, 227, (_x, y) => [0, y, 0]), clip);
    expect(at(tall, 1, 0, 0)).toBeCloseTo(norm(1, 1), 5);
  });

  it('resizes the shortest edge to 224 like Hugging Face (long side truncated)', async () => {
    expect(resizedSize(512, 768, 224)).toEqual([224, 336]);
    expect(resizedSize(1000, 333, 224)).toEqual([672, 224]);
    const t = await preprocessImage(await png(512, 768, () => [200, 100, 50]), clip);
    for (const [x, y] of [[0, 0], [111, 111], [223, 223]]) {
      expect(at(t, 0, y, x)).toBeCloseTo(norm(200, 0), 4);
      expect(at(t, 2, y, x)).toBeCloseTo(norm(50, 2), 4);
    }
  });

  it('scores a zone: the box is cut before resizing', async () => {
    // Top half red, bottom half blue: the top-half zone is all red.
    const bytes = await png(512, 768, (_x, y) => (y < 384 ? [255, 0, 0] : [0, 0, 255]));
    const t = await preprocessImage(bytes, clip, [0, 0, 1, 0.5]);
    expect(at(t, 0, 223, 112)).toBeCloseTo(norm(255, 0), 4);
    expect(at(t, 2, 223, 112)).toBeCloseTo(norm(0, 2), 4);
  });

  it('drops alpha and keeps RGB of an RGBA PNG', async () => {
    const rgba = Buffer.alloc(224 * 224 * 4);
    for (let i = 0; i < 224 * 224; i++) rgba.set([10, 20, 30, 0], i * 4);
    const bytes = await sharp(rgba, { raw: { width: 224, height: 224, channels: 4 } }).png().toBuffer();
    const t = await preprocessImage(bytes, clip);
    expect(at(t, 0, 7, 7)).toBeCloseTo(norm(10, 0), 5);
    expect(at(t, 2, 7, 7)).toBeCloseTo(norm(30, 2), 5);
  });

  it('reads greyscale and 16-bit PNGs as 8-bit RGB', async () => {
    const grey = await sharp(Buffer.alloc(224 * 224, 77), { raw: { width: 224, height: 224, channels: 1 } }).png().toBuffer();
    const g = await preprocessImage(grey, clip);
    for (let ch = 0; ch < 3; ch++) expect(at(g, ch, 10, 10)).toBeCloseTo(norm(77, ch), 5);
    const deep = await sharp(Buffer.alloc(224 * 224 * 3, 200), { raw: { width: 224, height: 224, channels: 3 } })
      .toColourspace('rgb16')
      .png()
      .toBuffer();
    expect((await sharp(deep).metadata()).depth).toBe('ushort');
    const d = await preprocessImage(deep, clip);
    expect(at(d, 1, 100, 100)).toBeCloseTo(norm(200, 1), 5);
  });
});
