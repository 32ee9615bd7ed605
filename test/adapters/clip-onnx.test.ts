import { beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadClipModel } from '../../adapters/clip-onnx.js';
import { ensureDemoModel, writeDemoModel } from '../../demo/clip-model.js';
import { createGraph, writeModel } from '../../demo/onnx-build.js';

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

let demoDir: string;
beforeAll(async () => {
  demoDir = join(mkdtempSync(join(tmpdir(), 'sdloop-clip-')), 'clip-demo');
  await writeDemoModel(demoDir);
});

/** A combined CLIP-style model.onnx: both towers in one graph, as the Xenova export has it. */
async function writeCombined(dir: string) {
  mkdirSync(join(dir, 'onnx'), { recursive: true });
  const g = createGraph('combined');
  g.input('input_ids', 'int64', ['b', 77]);
  g.input('attention_mask', 'int64', ['b', 77]);
  g.input('pixel_values', 'float32', ['c', 3, 224, 224]);
  const ids = g.node('Cast', ['input_ids'], { to: 1 });
  const masked = g.node('Mul', [ids, g.node('Cast', ['attention_mask'], { to: 1 })]);
  const text = g.node('Slice', [masked, g.init('s0', [1], new BigInt64Array([0n])), g.init('s1', [1], new BigInt64Array([4n])), g.init('ax', [1], new BigInt64Array([1n]))]);
  const pooled = g.node('GlobalAveragePool', ['pixel_values']);
  const image = g.node('Reshape', [pooled, g.init('shape', [2], new BigInt64Array([-1n, 3n]))]);
  const image4 = g.node('Pad', [image, g.init('pads', [4], new BigInt64Array([0n, 0n, 0n, 1n]))]);
  g.output('text_embeds', text, ['b', 4]);
  g.output('image_embeds', image4, ['c', 4]);
  g.output('logits_per_image', image4, ['c', 4]);
  await writeModel(join(dir, 'onnx', 'model.onnx'), g, 'test model');
}

describe('CLIP ONNX loader', () => {
  it('loads the split layout and embeds texts and images as unit vectors', async () => {
    const model = await loadClipModel(demoDir, { threads: 1 });
    expect(model.layout).toBe('split');
    expect(model.name).toBe('clip-demo');
    expect(model.dim).toBe(49);
    for (const file of ['config.json', 'preprocessor_config.json', 'tokenizer_config.json']) {
      expect(readFileSync(join(demoDir, file), 'utf8'), file).toMatch(/DEMO model/);
    }
    const [a, b, a2] = await model.embedTexts(['neon blue', 'gala dress', 'neon blue']);
    expect(dot(a, a)).toBeCloseTo(1, 5);
    expect(a2).toBe(a);
    expect(dot(a, b)).toBeLessThan(0.9);
    const [grey] = await model.embedImages([new Float32Array(3 * 224 * 224)]);
    expect(grey).toHaveLength(49);
    await model.close();
  });

  it('writes the demo model under data/models/clip-demo once and reuses it', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'sdloop-data-'));
    const dir = await ensureDemoModel(dataDir);
    expect(dir).toBe(join(dataDir, 'models', 'clip-demo'));
    const written = statSync(join(dir, 'onnx', 'text_model.onnx')).mtimeMs;
    expect(await ensureDemoModel(dataDir)).toBe(dir);
    expect(statSync(join(dir, 'onnx', 'text_model.onnx')).mtimeMs).toBe(written);
  });

  it('picks the file of the variant asked for', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'sdloop-clip-')), 'quant');
    mkdirSync(join(dir, 'onnx'), { recursive: true });
    copyFileSync(join(demoDir, 'onnx', 'vision_model.onnx'), join(dir, 'onnx', 'vision_model_quantized.onnx'));
    copyFileSync(join(demoDir, 'onnx', 'text_model.onnx'), join(dir, 'onnx', 'text_model_quantized.onnx'));
    copyFileSync(join(demoDir, 'tokenizer.json'), join(dir, 'tokenizer.json'));
    const model = await loadClipModel(dir, { variant: 'quantized' });
    expect(model.name).toBe('quant:quantized');
    await model.close();
    await expect(loadClipModel(dir, { variant: 'fp32' })).rejects.toThrow(/onnx\/vision_model.onnx with onnx\/text_model.onnx/);
  });

  it('converts to and from float16 for an fp16 export with half-precision inputs and outputs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sdloop-clip-'));
    mkdirSync(join(dir, 'onnx'), { recursive: true });
    const v = createGraph('half_vision');
    v.input('pixel_values', 'float16', ['b', 3, 224, 224]);
    const pooled = v.node('GlobalAveragePool', [v.node('Cast', ['pixel_values'], { to: 1 })]);
    const flat = v.node('Reshape', [pooled, v.init('shape', [2], new BigInt64Array([-1n, 3n]))]);
    v.output('image_embeds', v.node('Cast', [flat], { to: 10 }), ['b', 3], 'float16');
    await writeModel(join(dir, 'onnx', 'vision_model_fp16.onnx'), v, 'test');
    const t = createGraph('half_text');
    t.input('input_ids', 'int64', ['b', 77]);
    const ids = t.node('Slice', [t.node('Cast', ['input_ids'], { to: 1 }), t.init('s0', [1], new BigInt64Array([0n])), t.init('s1', [1], new BigInt64Array([3n])), t.init('ax', [1], new BigInt64Array([1n]))]);
    t.output('text_embeds', t.node('Cast', [ids], { to: 10 }), ['b', 3], 'float16');
    await writeModel(join(dir, 'onnx', 'text_model_fp16.onnx'), t, 'test');
    const model = await loadClipModel(dir, { variant: 'fp16' });
    const pixels = new Float32Array(3 * 224 * 224);
    pixels.fill(0.25, 0, 224 * 224);
    pixels.fill(-0.5, 224 * 224, 2 * 224 * 224);
    pixels.fill(1.5, 2 * 224 * 224);
    const [img] = await model.embedImages([pixels]);
    const n = Math.hypot(0.25, -0.5, 1.5);
    [0.25, -0.5, 1.5].forEach((x, i) => expect(img[i]).toBeCloseTo(x / n, 3));
    // ids 49406, 320, 1125 are beyond float16's exact range: within its 11-bit precision.
    const [txt] = await model.embedTexts(['a photo']);
    const m = Math.hypot(49406, 320, 1125);
    [49406, 320, 1125].forEach((x, i) => expect(txt[i]).toBeCloseTo(x / m, 2));
    await model.close();
  });

  it('loads the combined layout', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sdloop-clip-'));
    await writeCombined(dir);
    const model = await loadClipModel(dir, { threads: 1 });
    expect(model.layout).toBe('combined');
    const [t] = await model.embedTexts(['a photo of a cat']);
    // Text ids 49406 320 1125 539 scaled to unit length.
    const ids = [49406, 320, 1125, 539];
    const norm = Math.hypot(...ids);
    ids.forEach((id, i) => expect(t[i]).toBeCloseTo(id / norm, 5));
    const pixels = new Float32Array(3 * 224 * 224).fill(1);
    const [img] = await model.embedImages([pixels]);
    expect(img[0]).toBeCloseTo(1 / Math.sqrt(3), 5);
    expect(img[3]).toBe(0);
    await model.close();
  });

  it('rejects a model whose tensor names are not CLIP\'s, listing expected and found', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sdloop-clip-'));
    mkdirSync(join(dir, 'onnx'), { recursive: true });
    copyFileSync(join(demoDir, 'onnx', 'text_model.onnx'), join(dir, 'onnx', 'text_model.onnx'));
    const g = createGraph('wrong');
    g.input('images', 'float32', ['b', 3, 224, 224]);
    g.output('features', g.node('GlobalAveragePool', ['images']), ['b', 3, 1, 1]);
    await writeModel(join(dir, 'onnx', 'vision_model.onnx'), g, 'wrong names');
    await expect(loadClipModel(dir)).rejects.toThrow(
      'expected inputs [pixel_values] and outputs including [image_embeds]; found inputs [images] and outputs [features]',
    );
  });

  it('says what it expected when the folder is no CLIP export', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sdloop-clip-'));
    await expect(loadClipModel(dir)).rejects.toThrow(/expected a CLIP ONNX export/);
    rmSync(dir, { recursive: true });
  });
});
