import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadClipModel } from '../../adapters/clip-onnx.js';
import sharp from 'sharp';
import { VIT_L_14_336, writeVitModel } from '../../demo/vit-model.js';
import { createScorer } from '../../stages/score/scorer.js';
import { scoreParams } from '../../stages/score/params.js';
import { axisAlternatives, indexAlternatives } from '../../stages/resolve/alternatives.js';

describe('ViT-shaped benchmark model', () => {
  it('loads through the CLIP loader and embeds a batch', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'sdloop-vit-')), 'vit-small');
    await writeVitModel(dir, { image: 224, patch: 32, width: 64, layers: 2, heads: 4, mlp: 128, projection: 32 });
    expect(readFileSync(join(dir, 'config.json'), 'utf8')).toMatch(/RANDOM weights/);
    const model = await loadClipModel(dir, { threads: 1 });
    expect(model.dim).toBe(32);
    const pixels = [new Float32Array(3 * 224 * 224).fill(0.5), new Float32Array(3 * 224 * 224).map((_, i) => Math.sin(i))];
    const [a, b] = await model.embedImages(pixels);
    expect(a).toHaveLength(32);
    expect(Math.hypot(...a)).toBeCloseTo(1, 5);
    expect(Array.from(a)).not.toEqual(Array.from(b));
    await model.close();
  });
});

describe('ViT-L/14-shaped model at 336 px', () => {
  it('preprocesses at its own size and scores through the scorer with 768-dim embeddings', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'sdloop-vitl-')), 'vit-l14-small');
    // The real model's input and output widths, a thin tower between them to keep the test fast.
    await writeVitModel(dir, { ...VIT_L_14_336, width: 32, layers: 1, heads: 2, mlp: 64 });
    const model = await loadClipModel(dir, { threads: 1 });
    expect(model.dim).toBe(768);
    expect([model.preprocess.cropWidth, model.preprocess.cropHeight]).toEqual([336, 336]);
    await model.close();

    const scorer = await createScorer(scoreParams.parse({ model: dir, workers: 0, phrasings: { default: ['{v}'] } }), { projectDir: dir });
    // Detailed pixels: a uniform frame would be scored blank without asking the model.
    const noise = Uint8Array.from({ length: 512 * 768 * 3 }, (_, i) => (i * 2654435761) >>> 24);
    const png = await sharp(noise, { raw: { width: 512, height: 768, channels: 3 } }).png().toBuffer();
    const hair = axisAlternatives('HairColor', ['red', 'blonde'], ['red hair', 'blonde hair']);
    const prompt = {
      prompt_id: 'p0', source: 't', session: 's', theme: null, style: null, idx: 0, prompt: 'red hair', api_prompt: 'red hair',
      negative_prompt: '', seed: 1, params: {}, manifest: {}, manifest_variations: '',
      variations: { HairColor: { key: 'red', value: 'red hair', text: 'red hair', alternatives: hair.alternatives } },
    };
    const scored = await scorer.scoreImages([{ png, image_id: 'img', prompt }], indexAlternatives([hair]));
    expect(scored.embeddings[0].embedding).toHaveLength(768);
    expect(scored.scores).toHaveLength(1);
    expect(scored.scores[0].p_target).toBeGreaterThan(0);
    expect(scored.scores[0].p_target).toBeLessThan(1);
    await scorer.close();
  });
});
