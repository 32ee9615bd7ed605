import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { renderSynthetic, SYNTHETIC_MODEL, SYNTHETIC_MODEL_HASH } from '../../demo/synthetic.js';
import { loraFromMetadata, loadSyntheticLora } from '../../demo/synthetic-lora.js';
import { writeSafetensors } from '../../adapters/safetensors.js';
import { parseParameters, readPngText } from '../../adapters/png-text.js';
import { lookup, promptRow, promptRows } from '../generate/rows.js';

const noLora = async () => { throw new Error('no LoRA expected'); };
const options = { failureRate: 0.3, valueFailureRates: {}, blankRate: 0, lora: noLora, alternatives: lookup };

describe('synthetic backend (demo)', () => {
  it('renders byte-identical PNGs for the same row, different ones for another seed', async () => {
    const a = await renderSynthetic(promptRow(1), options);
    const b = await renderSynthetic(promptRow(1), options);
    const c = await renderSynthetic(promptRow(1, { seed: 7 }), options);
    expect(Buffer.compare(a.png, b.png)).toBe(0);
    expect(Buffer.compare(a.png, c.png)).not.toBe(0);
    const meta = await sharp(a.png).metadata();
    expect([meta.width, meta.height]).toEqual([64, 96]);
  });

  it('tags the model and says it is a demo in the PNG text', async () => {
    const { png } = await renderSynthetic(promptRow(2), options);
    const text = readPngText(png);
    expect(text.sdloop).toMatch(/DEMO/);
    const p = parseParameters(text.parameters!);
    expect(p.prompt).toBe(promptRow(2).api_prompt);
    expect(p.negativePrompt).toBe('lowres, bad hands');
    expect(p.settings).toMatchObject({ Model: SYNTHETIC_MODEL, 'Model hash': SYNTHETIC_MODEL_HASH, Seed: '1002', Size: '64x96', Version: 'sdloop-synthetic (demo)', 'Schedule type': 'Karras' });
  });

  it('draws the planned value at about 1 - failure_rate, else another key of the axis', async () => {
    const rows = promptRows(300);
    let hits = 0;
    for (const row of rows) {
      const r = await renderSynthetic(row, options);
      expect(lookup(row.variations.HairColor!.alternatives)!.keys).toContain(r.rendered!.HairColor);
      if (r.rendered!.HairColor === row.variations.HairColor!.key) hits++;
    }
    expect(hits / rows.length).toBeGreaterThan(0.6);
    expect(hits / rows.length).toBeLessThan(0.8);
  });

  it('paints blank images as all black', async () => {
    const r = await renderSynthetic(promptRow(3), { ...options, blankRate: 1 });
    expect(r.blank).toBe(true);
    expect(r.rendered).toBeNull();
    const { channels } = await sharp(r.png).stats();
    expect(channels.every((c) => c.max === 0)).toBe(true);
  });

  it('a LoRA trained on a value lowers its failure rate, in proportion to the weight', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sdloop-gen-lora-'));
    const file = join(dir, 'hairfix.safetensors');
    await writeSafetensors(file, { 'lora_unet.w': { dtype: 'F32', shape: [1], data: new Float32Array([0]) } }, {
      ss_output_name: 'hairfix', ss_tag_frequency: JSON.stringify({ '10_hair': { 'neon blue hair': 20, 'crimson hair': 20, 'silver hair': 20, 'casual clothes': 1 } }),
    });
    const lora = await loadSyntheticLora('hairfix', [dir]);
    expect(lora.strengthOf('NeonBlue', 'neon blue hair')).toBe(1);
    const rows = promptRows(300);
    const adherence = async (weight: number | null) => {
      let hits = 0;
      for (const row of rows) {
        const prompted = weight === null ? row : { ...row, api_prompt: `${row.api_prompt}, <lora:hairfix:${weight}>` };
        const r = await renderSynthetic(prompted, { ...options, lora: async () => lora });
        if (r.rendered!.HairColor === row.variations.HairColor!.key) hits++;
      }
      return hits / rows.length;
    };
    const [none, half, full] = [await adherence(null), await adherence(0.5), await adherence(1)];
    expect(half).toBeGreaterThan(none + 0.08);
    expect(full).toBe(1);
    const withLora = await renderSynthetic({ ...promptRow(0), api_prompt: `${promptRow(0).api_prompt}, <lora:hairfix:1>` }, { ...options, lora: async () => lora });
    // A1111's rule for a file without sshs_model_hash: 12 hex of SHA-256 over the bytes after the header.
    const bytes = readFileSync(file);
    const weightsHash = createHash('sha256').update(bytes.subarray(8 + Number(bytes.readBigUInt64LE(0)))).digest('hex');
    expect(parseParameters(readPngText(withLora.png).parameters!).settings['Lora hashes']).toBe(`hairfix: ${weightsHash.slice(0, 12)}`);
  });

  it('reads tag strength from ss_tag_frequency relative to the most frequent tag', () => {
    const lora = loraFromMetadata('x', '/x', 'h', { ss_tag_frequency: JSON.stringify({ a: { '1girl': 100 }, b: { 'Red Hair': 25 } }) });
    expect(lora.strengthOf('Red', 'red hair')).toBeCloseTo(0.5);
    expect(lora.strengthOf('Blue', 'blue hair, long')).toBe(0);
  });
});

describe('synthetic pictures read back through the demo world', () => {
  it('each axis row of the centre square decodes closest to the value that was drawn', async () => {
    const { DEMO_GRID, DEMO_GREY, DEMO_CODE_SCALE, axisRow, cellSpan, centreSquare, valueCode } = await import('../../demo/world.js');
    for (const row of promptRows(12)) {
      const r = await renderSynthetic(row, options);
      const { data, info } = await sharp(r.png).raw().toBuffer({ resolveWithObject: true });
      const { x0, y0, size } = centreSquare(info.width, info.height);
      const axes = Object.keys(row.variations);
      for (const axis of axes) {
        const [top, bottom] = cellSpan(axisRow(axis, axes), size);
        const code: number[] = [];
        for (let c = 0; c < DEMO_GRID; c++) {
          const [left] = cellSpan(c, size);
          const p = ((y0 + Math.floor((top + bottom) / 2)) * info.width + x0 + left) * 3;
          for (let k = 0; k < 3; k++) code.push((data[p + k]! - DEMO_GREY) / DEMO_CODE_SCALE);
        }
        const { keys, texts } = lookup(row.variations[axis]!.alternatives)!;
        const cosines = await Promise.all(texts.map(async (t) => (await valueCode(t)).reduce((s, v, i) => s + v * code[i]!, 0)));
        expect(keys[cosines.indexOf(Math.max(...cosines))]).toBe(r.rendered![axis]);
      }
    }
  });
});
