import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadClipModel } from '../../adapters/clip-onnx.js';
import { writeVitModel } from '../../demo/vit-model.js';

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
