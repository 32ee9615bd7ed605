// Aesthetic heads in LAION's aesthetic predictor v2 form (Linear layers on the image
// embedding, no activation between them), as a JSON state dict and as ONNX, besides the linear head.
import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEMO_EMBED_DIM } from '../../demo/clip-model.js';
import { createGraph, writeModel } from '../../demo/onnx-build.js';
import { renderSynthetic } from '../../demo/synthetic.js';
import { loadAestheticHead, mlpScore } from '../../stages/score/aesthetic.js';
import { scoreParams } from '../../stages/score/params.js';
import { createScorer } from '../../stages/score/scorer.js';
import { alternativesIndex, promptRow } from './helpers.js';

/** LAION's layer widths after the input, thinned so the test stays small: dim -> 32 -> 16 -> 8 -> 4 -> 1. */
const WIDTHS = [32, 16, 8, 4, 1];
const seeded = (seed: number) => () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5);

/** A state dict named as the predictor's nn.Sequential names it: layers.0, .2, .4, .6, .7. */
function stateDict(dim: number) {
  const rand = seeded(7);
  const dict: Record<string, number[][] | number[]> = {};
  let width = dim;
  WIDTHS.forEach((out, i) => {
    const name = `layers.${[0, 2, 4, 6, 7][i]}`;
    dict[`${name}.weight`] = Array.from({ length: out }, () => Array.from({ length: width }, rand));
    dict[`${name}.bias`] = Array.from({ length: out }, rand);
    width = out;
  });
  return dict;
}

/** The same layers as an ONNX graph: x @ W^T + b per layer. */
async function writeOnnxHead(file: string, dict: ReturnType<typeof stateDict>, dim: number) {
  const g = createGraph('aesthetic_head');
  g.input('embedding', 'float32', ['batch', dim]);
  let x = 'embedding';
  let width = dim;
  WIDTHS.forEach((out, i) => {
    const name = `layers.${[0, 2, 4, 6, 7][i]}`;
    const w = dict[`${name}.weight`] as number[][];
    const transposed = Float32Array.from({ length: width * out }, (_, k) => w[k % out][Math.floor(k / out)]);
    x = g.node('Add', [g.node('MatMul', [x, g.init(`${name}.wt`, [width, out], transposed)]), g.init(`${name}.b`, [out], Float32Array.from(dict[`${name}.bias`] as number[]))]);
    width = out;
  });
  g.output('score', x, ['batch', 1]);
  await writeModel(file, g, 'test aesthetic head');
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sdloop-aesthetic-'));
});

const unit = (dim: number, seed: number) => {
  const rand = seeded(seed);
  const v = Float32Array.from({ length: dim }, rand);
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
};

describe('aesthetic heads', () => {
  it('reads a state dict of Linear layers in index order and scores with them, on 768-dim ViT-L/14 embeddings', async () => {
    const file = join(dir, 'mlp-768.json');
    writeFileSync(file, JSON.stringify(stateDict(768)));
    const head = await loadAestheticHead(file, 768);
    const e = unit(768, 3);
    // By hand: the layers one after another, no activation.
    const dict = stateDict(768);
    let x: number[] = Array.from(e);
    for (const n of [0, 2, 4, 6, 7]) {
      const w = dict[`layers.${n}.weight`] as number[][];
      const b = dict[`layers.${n}.bias`] as number[];
      x = w.map((row, o) => row.reduce((s, wi, i) => s + wi * x[i], b[o]));
    }
    expect((await head.score([e]))[0]).toBeCloseTo(x[0], 10);
    await expect(loadAestheticHead(file, 512)).rejects.toThrow(/expected a first layer of 512 inputs/);
  });

  it('scores the same through an ONNX head of the same layers', async () => {
    const dict = stateDict(48);
    const file = join(dir, 'head.onnx');
    await writeOnnxHead(file, dict, 48);
    const onnx = await loadAestheticHead(file, 48);
    writeFileSync(join(dir, 'mlp-48.json'), JSON.stringify(dict));
    const json = await loadAestheticHead(join(dir, 'mlp-48.json'), 48);
    const es = [unit(48, 1), unit(48, 2)];
    const [a, b] = [await onnx.score(es), await json.score(es)];
    expect(a[0]).toBeCloseTo(b[0], 5);
    expect(a[1]).toBeCloseTo(b[1], 5);
    expect(a[0]).not.toBeCloseTo(a[1], 5);
    await onnx.close();
  });

  it('fills the aesthetic column of the scorer from a state-dict head', async () => {
    const file = join(dir, 'mlp-demo.json');
    writeFileSync(file, JSON.stringify(stateDict(DEMO_EMBED_DIM)));
    const scorer = await createScorer(scoreParams.parse({ workers: 0, aesthetic_head: file }), { projectDir: dir });
    const prompt = promptRow(0);
    const index = alternativesIndex();
    const r = await renderSynthetic(prompt, { failureRate: 0, valueFailureRates: {}, blankRate: 0, lora: async () => { throw new Error('no lora'); }, alternatives: (id) => index.get(id) });
    const scored = await scorer.scoreImages([{ png: r.png, image_id: 'img', prompt }], index);
    await scorer.close();
    const { denseLayers } = await import('../../stages/score/aesthetic.js');
    const expected = mlpScore(denseLayers(stateDict(DEMO_EMBED_DIM), file), Float32Array.from(scored.embeddings[0].embedding));
    expect(scored.quality[0].aesthetic).toBeCloseTo(expected, 10);
  });
});
