import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import {
  formatParameters, insertChunks, parseParameters, readPngText, writePngText, zTextChunkBytes,
} from '../../adapters/png-text.js';

// The regex contracts.md gives for the settings line, applied as a reader would.
const contractPattern = /\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)/g;

async function tinyPng() {
  return sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 10, g: 20, b: 30 } } }).png().toBuffer();
}

describe('PNG text chunks', () => {
  it('writes tEXt and iTXt that read back, and sharp still decodes the PNG', async () => {
    const png = writePngText(await tinyPng(), { parameters: 'a cat\nSteps: 1, Seed: 2, Size: 8x8', note: 'caf\u00e9 \u732b' });
    expect(readPngText(png)).toEqual({ parameters: 'a cat\nSteps: 1, Seed: 2, Size: 8x8', note: 'caf\u00e9 \u732b' });
    const meta = await sharp(png).metadata();
    expect(meta.width).toBe(8);
    expect(png.includes(Buffer.from('iTXt'))).toBe(true);
  });

  it('reads zTXt and replaces an existing keyword instead of adding a second one', async () => {
    const withZ = insertChunks(await tinyPng(), [zTextChunkBytes('parameters', 'old text')]);
    expect(readPngText(withZ).parameters).toBe('old text');
    const rewritten = writePngText(withZ, { parameters: 'new text' });
    expect(readPngText(rewritten)).toEqual({ parameters: 'new text' });
  });

  it('rejects a chunk with a bad CRC', async () => {
    const png = Buffer.from(writePngText(await tinyPng(), { parameters: 'x' }));
    png[40] ^= 0xff;
    expect(() => readPngText(png)).toThrow(/CRC/);
  });
});

describe('A1111 parameters text', () => {
  const params = {
    prompt: 'masterpiece, 1girl, <lora:bob:0.7>\nsecond line',
    negativePrompt: 'lowres, bad hands',
    settings: {
      Steps: '20', Sampler: 'Euler a', 'Schedule type': 'Karras', 'CFG scale': '7', Seed: '123', Size: '512x768',
      'Model hash': 'abcdef0123', Model: 'name', 'Lora hashes': 'bob: 0123456789ab', Version: 'v1.10.1',
    },
  };

  it('formats the three parts with quoted values, and parses them back', () => {
    const text = formatParameters(params);
    const lines = text.split('\n');
    expect(lines[2]).toBe('Negative prompt: lowres, bad hands');
    expect(lines[3]).toBe('Steps: 20, Sampler: Euler a, Schedule type: Karras, CFG scale: 7, Seed: 123, Size: 512x768, Model hash: abcdef0123, Model: name, Lora hashes: "bob: 0123456789ab", Version: v1.10.1');
    expect(parseParameters(text)).toEqual(params);
  });

  it('matches the contract regex on the settings line', () => {
    const last = formatParameters(params).split('\n').at(-1)!;
    const pairs = [...last.matchAll(contractPattern)].map((m) => [m[1], m[2]]);
    expect(pairs).toContainEqual(['Lora hashes', '"bob: 0123456789ab"']);
    expect(pairs).toContainEqual(['Model', 'name']);
    expect(pairs.length).toBe(10);
  });

  it('omits the negative line when empty and keeps a prompt whose last line is not settings', () => {
    const text = formatParameters({ prompt: 'a cat', negativePrompt: '', settings: { Steps: '1', Seed: '2', Size: '8x8' } });
    expect(text).toBe('a cat\nSteps: 1, Seed: 2, Size: 8x8');
    expect(parseParameters('just a prompt: with colon')).toEqual({ prompt: 'just a prompt: with colon', negativePrompt: '', settings: {} });
  });
});
