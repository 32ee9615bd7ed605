import { describe, expect, it } from 'vitest';
import {
  DEMO_DIM,
  DEMO_GREY,
  axisRow,
  codeLevel,
  paintGrid,
  textCode,
  tokenVector,
  valueCode,
} from '../../demo/world.js';

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

describe('demo world', () => {
  it('gives every token a fixed Gaussian vector and CLIP specials none', () => {
    const v = tokenVector(320);
    expect(v).toHaveLength(DEMO_DIM);
    expect(tokenVector(320)).toEqual(v);
    const mean = v.reduce((s, x) => s + x, 0) / DEMO_DIM;
    const variance = v.reduce((s, x) => s + x * x, 0) / DEMO_DIM;
    expect(Math.abs(mean)).toBeLessThan(0.5);
    expect(variance).toBeGreaterThan(0.4);
    expect(variance).toBeLessThan(2);
    for (const id of [0, 49406, 49407]) expect([...tokenVector(id)].every((x) => x === 0)).toBe(true);
  });

  it('codes a text as the sum of its token vectors, unit length', async () => {
    const sum = textCode([49406, 320, 2368, 49407]);
    const a = tokenVector(320);
    const cat = tokenVector(2368);
    sum.forEach((x, i) => expect(x).toBeCloseTo(a[i] + cat[i], 5));
    const code = await valueCode('neon blue');
    expect(dot(code, code)).toBeCloseTo(1, 5);
    const other = await valueCode('gala dress');
    expect(Math.abs(dot(code, other))).toBeLessThan(0.6);
  });

  it('puts each axis in a stable row', () => {
    expect(axisRow('Outfit', ['Outfit', 'HairColor'])).toBe(1);
    expect(axisRow('HairColor', ['Outfit', 'HairColor'])).toBe(0);
    expect(() => axisRow('Eyes', ['Outfit'])).toThrow(/not among/);
  });

  it('paints a row of cells inside the centre square of a portrait image', async () => {
    const width = 512;
    const height = 768;
    const rgb = new Uint8Array(width * height * 3).fill(7);
    const code = await valueCode('neon blue');
    paintGrid(rgb, width, height, [{ row: 2, code }]);
    const at = (x: number, y: number) => [...rgb.subarray((y * width + x) * 3, (y * width + x) * 3 + 3)];
    expect(at(0, 0)).toEqual([7, 7, 7]);
    expect(at(100, 127)).toEqual([7, 7, 7]);
    expect(at(100, 128)).toEqual([DEMO_GREY, DEMO_GREY, DEMO_GREY]);
    // Row 2 covers y 128+64 .. 128+96; cell 5 covers x 160..192.
    expect(at(170, 200)).toEqual([codeLevel(code[15]), codeLevel(code[16]), codeLevel(code[17])]);
    expect(at(170, 128 + 96)).toEqual([DEMO_GREY, DEMO_GREY, DEMO_GREY]);
  });
});
