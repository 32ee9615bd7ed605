import { beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { CLIP_MEAN, CLIP_STD } from '../../adapters/clip-preprocess.js';
import { CLIP_VOCAB_SIZE, encodeClip } from '../../adapters/clip-tokenizer.js';
import { scoreAxis, softmax } from '../../stages/score/adherence.js';
import { createGraph, writeModel } from '../../demo/onnx-build.js';
import { scoreParams } from '../../stages/score/params.js';
import { createScorer, type ScoreItem } from '../../stages/score/scorer.js';

/**
 * A three-dimensional "CLIP" built here: the image embedding is the mean colour (in 0..1,
 * minus 0.5) of the rows [rowFrom, rowTo) of the 224x224 input; the word "red" embeds as
 * red minus 0.5, "blue" as blue minus 0.5.
 */
async function writeColourModel(dir: string, rowFrom = 0, rowTo = 224) {
  mkdirSync(join(dir, 'onnx'), { recursive: true });
  const v = createGraph('colour_vision');
  v.input('pixel_values', 'float32', ['b', 3, 224, 224]);
  const i64 = (name: string, values: number[]) => v.init(name, [values.length], BigInt64Array.from(values.map(BigInt)));
  const rows = v.node('Slice', ['pixel_values', i64('from', [rowFrom]), i64('to', [rowTo]), i64('axis', [2])]);
  const pooled = v.node('Reshape', [v.node('GlobalAveragePool', [rows]), i64('shape', [-1, 3])]);
  const colour = v.node('Add', [
    v.node('Mul', [pooled, v.init('std', [3], Float32Array.from(CLIP_STD))]),
    v.init('shift', [3], Float32Array.from(CLIP_MEAN, (m) => m - 0.5)),
  ]);
  v.output('image_embeds', colour, ['b', 3]);
  await writeModel(join(dir, 'onnx', 'vision_model.onnx'), v, 'test model');

  const t = createGraph('colour_text');
  t.input('input_ids', 'int64', ['b', 77]);
  const table = new Float32Array(CLIP_VOCAB_SIZE * 3);
  const [red] = (await encodeClip('red')).slice(1, 2);
  const [blue] = (await encodeClip('blue')).slice(1, 2);
  table.set([0.5, -0.5, -0.5], red * 3);
  table.set([-0.5, -0.5, 0.5], blue * 3);
  const words = t.node('Gather', [t.init('table', [CLIP_VOCAB_SIZE, 3], table), 'input_ids'], { axis: 0 });
  const summed = t.node('ReduceSum', [words, t.init('ax', [1], new BigInt64Array([1n]))], { keepdims: 0 });
  t.output('text_embeds', summed, ['b', 3]);
  await writeModel(join(dir, 'onnx', 'text_model.onnx'), t, 'test model');
}

/** Top and bottom halves of a 224x448 picture; a green checkerboard keeps it from reading as a uniform frame. */
async function halves(top: number[], bottom: number[]): Promise<Uint8Array> {
  const [width, height] = [224, 448];
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [r, , b] = y < height / 2 ? top : bottom;
      data.set([r, (x + y) % 2 ? 40 : 0, b], (y * width + x) * 3);
    }
  }
  return sharp(data, { raw: { width, height, channels: 3 } }).png().toBuffer();
}

const cos = (a: number[], b: number[]) =>
  a.reduce((s, x, i) => s + x * b[i], 0) / Math.hypot(...a) / Math.hypot(...b);

const hair = { key: 'red', keys: ['red', 'blue'], texts: ['red', 'blue'] };
let root: string;
let images: Record<string, ScoreItem>;
beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'sdloop-adherence-'));
  await writeColourModel(join(root, 'colour'));
  await writeColourModel(join(root, 'top-reader'), 0, 112);
  const item = (id: string, source: Uint8Array): ScoreItem => ({ image_id: id, prompt_id: id, source, variations: { Hair: hair } });
  images = {
    red: item('red', await halves([255, 0, 0], [255, 0, 0])),
    blue: item('blue', await halves([0, 0, 255], [0, 0, 255])),
    split: item('split', await halves([255, 0, 0], [0, 0, 255])),
  };
});

const params = (over: Record<string, unknown>) => scoreParams.parse({ model: 'colour', workers: 0, phrasings: { default: ['{v}'] }, ...over });

describe('zero-shot adherence', () => {
  it('is softmax(100 cos) over the alternatives of the axis', () => {
    const a = new Float32Array([1, 0]);
    const texts = [new Float32Array([0.3, Math.sqrt(1 - 0.09)]), new Float32Array([0.28, Math.sqrt(1 - 0.0784)])];
    const [p0, p1] = softmax([30, 28]);
    expect(p0).toBeCloseTo(1 / (1 + Math.exp(-2)), 10);
    const s = scoreAxis(a, texts, 1);
    expect(s.p_target).toBeCloseTo(p1, 5);
    expect(s.margin).toBeCloseTo(p1 - p0, 5);
    expect(s.rank).toBe(2);
    expect(s.top_index).toBe(0);
    expect(s.certainty).toBeCloseTo(p0 - p1, 5);
  });

  it('scores images with a model built in the test', async () => {
    const scorer = await createScorer(params({}), { projectDir: root });
    const { scores } = await scorer.scoreItems([images.red, images.blue]);
    // The red image embeds as its mean colour minus 0.5; the words as pure red and blue.
    const redImage = [0.5, 20 / 255 - 0.5, -0.5];
    const expected = softmax([100 * cos(redImage, [0.5, -0.5, -0.5]), 100 * cos(redImage, [-0.5, -0.5, 0.5])]);
    expect(scores[0]).toMatchObject({ value: 'red', top_value: 'red', rank: 1, matched: true, method: 'full', model: 'colour' });
    expect(scores[0].p_target).toBeCloseTo(expected[0], 5);
    expect(scores[1]).toMatchObject({ value: 'red', top_value: 'blue', rank: 2, matched: false });
    expect(scores[1].p_target).toBeCloseTo(expected[1], 5);
    await scorer.close();
  });

  it('reads a configured zone when the whole image is uncertain', async () => {
    const plain = await createScorer(params({}), { projectDir: root });
    const [full] = (await plain.scoreItems([images.split])).scores;
    expect(full.p_target).toBeCloseTo(0.5, 3);
    await plain.close();
    const zoned = await createScorer(params({ zones: { hair: { axis: 'Hair', box: [0, 0, 1, 0.5] } } }), { projectDir: root });
    const [zone] = (await zoned.scoreItems([images.split])).scores;
    expect(zone).toMatchObject({ method: 'zone:hair', top_value: 'red', matched: true, model: 'colour' });
    expect(zone.p_target).toBeGreaterThan(0.99);
    // A certain whole image never pays for the crop.
    const [sure] = (await zoned.scoreItems([images.blue])).scores;
    expect(sure.method).toBe('full');
    await zoned.close();
  });

  it('asks the fallback model when the first stays uncertain', async () => {
    const scorer = await createScorer(params({ fallback_model: 'top-reader' }), { projectDir: root });
    expect(scorer.models).toEqual(['colour', 'top-reader']);
    const { scores, embeddings } = await scorer.scoreItems([images.split]);
    expect(scores[0]).toMatchObject({ method: 'full', model: 'top-reader', top_value: 'red', matched: true });
    expect(embeddings[0].model).toBe('colour');
    await scorer.close();
  });
});
