// A CLIP folder with the shape of ViT-B/32 and random weights, for measuring speed: the
// vision tower has the real architecture (32x32 patches, 12 pre-LN transformer layers of
// width 768 with 12 heads, quick-GELU MLP of 3072, projection to 512), so inference costs
// what a real ViT-B/32 costs. Its embeddings mean nothing; every file says so.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../src/atomic.js';
import { buildClipTokenizerJson, clipTokenizerConfig, CLIP_VOCAB_SIZE } from '../adapters/clip-tokenizer.js';
import { demoPreprocessorConfig } from './clip-model.js';
import { createGraph, writeModel, type GraphBuilder } from './onnx-build.js';

export interface VitShape {
  image: number;
  patch: number;
  width: number;
  layers: number;
  heads: number;
  mlp: number;
  projection: number;
}

export const VIT_B_32: VitShape = { image: 224, patch: 32, width: 768, layers: 12, heads: 12, mlp: 3072, projection: 512 };
/** ViT-L/14 at 336 px (openai/clip-vit-large-patch14-336): the model LAION's aesthetic predictor reads. */
export const VIT_L_14_336: VitShape = { image: 336, patch: 14, width: 1024, layers: 24, heads: 16, mlp: 4096, projection: 768 };
export const RANDOM_NOTE = 'BENCHMARK model written by sdloop: ViT-shaped CLIP export with RANDOM weights, for speed only';

/** Small random weights (uniform, std about `scale`) from a fixed-seed LCG: the same file every time. */
function randomWeights(count: number, scale: number, seed: number): Float32Array {
  const out = new Float32Array(count);
  let s = seed >>> 0;
  const k = scale * Math.sqrt(12);
  for (let i = 0; i < count; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 4294967296 - 0.5) * k;
  }
  return out;
}

function buildVision(g: GraphBuilder, v: VitShape) {
  let seed = 1;
  const weight = (name: string, dims: number[], scale = 0.02) =>
    g.init(name, dims, randomWeights(dims.reduce((a, b) => a * b, 1), scale, seed++));
  const ones = (name: string, n: number) => g.init(name, [n], new Float32Array(n).fill(1));
  const zeros = (name: string, n: number) => g.init(name, [n], new Float32Array(n));
  const shape = (name: string, dims: number[]) => g.init(name, [dims.length], BigInt64Array.from(dims.map(BigInt)));
  const layerNorm = (x: string, name: string) => g.node('LayerNormalization', [x, ones(`${name}.w`, v.width), zeros(`${name}.b`, v.width)], { axis: -1, epsilon: 1e-5 });
  const linear = (x: string, name: string, inDim: number, outDim: number) =>
    g.node('Add', [g.node('MatMul', [x, weight(`${name}.w`, [inDim, outDim])]), zeros(`${name}.b`, outDim)]);

  const tokens = (v.image / v.patch) ** 2 + 1;
  const headDim = v.width / v.heads;
  g.input('pixel_values', 'float32', ['batch_size', 3, v.image, v.image]);
  const patches = g.node('Conv', ['pixel_values', weight('patch.w', [v.width, 3, v.patch, v.patch])], {
    kernel_shape: [v.patch, v.patch],
    strides: [v.patch, v.patch],
  });
  const seq = g.node('Transpose', [g.node('Reshape', [patches, shape('patch_shape', [0, v.width, -1])])], { perm: [0, 2, 1] });
  // The class token per image: a zero row (a patch sum times 0) plus the learned vector.
  const zeroRow = g.node('Mul', [g.node('ReduceSum', [seq, shape('axis1', [1])], { keepdims: 1 }), g.init('zero', [1], new Float32Array(1))]);
  const cls = g.node('Add', [zeroRow, weight('class_embedding', [v.width])]);
  let x = g.node('Add', [g.node('Concat', [cls, seq], { axis: 1 }), weight('position_embedding', [tokens, v.width])]);
  x = layerNorm(x, 'pre_layrnorm');

  const split = shape('heads_shape', [0, tokens, v.heads, headDim]);
  const merge = shape('merge_shape', [0, tokens, v.width]);
  const scale = g.init('attn_scale', [1], new Float32Array([1 / Math.sqrt(headDim)]));
  const gelu = g.init('gelu_k', [1], new Float32Array([1.702]));
  for (let l = 0; l < v.layers; l++) {
    const p = `layers.${l}`;
    const h = layerNorm(x, `${p}.ln1`);
    const heads = (name: string) => g.node('Transpose', [g.node('Reshape', [linear(h, `${p}.${name}`, v.width, v.width), split])], { perm: [0, 2, 1, 3] });
    const [q, k, val] = [heads('q'), heads('k'), heads('v')];
    const scores = g.node('Mul', [g.node('MatMul', [q, g.node('Transpose', [k], { perm: [0, 1, 3, 2] })]), scale]);
    const attended = g.node('MatMul', [g.node('Softmax', [scores], { axis: -1 }), val]);
    const joined = g.node('Reshape', [g.node('Transpose', [attended], { perm: [0, 2, 1, 3] }), merge]);
    x = g.node('Add', [x, linear(joined, `${p}.out`, v.width, v.width)]);
    const up = linear(layerNorm(x, `${p}.ln2`), `${p}.fc1`, v.width, v.mlp);
    const act = g.node('Mul', [up, g.node('Sigmoid', [g.node('Mul', [up, gelu])])]);
    x = g.node('Add', [x, linear(act, `${p}.fc2`, v.mlp, v.width)]);
  }
  const pooled = layerNorm(g.node('Gather', [x, g.init('cls_index', [], new BigInt64Array([0n]))], { axis: 1 }), 'post_layernorm');
  const embeds = g.node('MatMul', [pooled, weight('visual_projection', [v.width, v.projection])]);
  g.output('image_embeds', embeds, ['batch_size', v.projection]);
}

/** A cheap text tower of the same output width, so the folder loads and scores as a whole. */
function buildText(g: GraphBuilder, v: VitShape) {
  const inner = 16;
  g.input('input_ids', 'int64', ['batch_size', 'sequence_length']);
  const table = g.init('token_embedding', [CLIP_VOCAB_SIZE, inner], randomWeights(CLIP_VOCAB_SIZE * inner, 1, 99));
  const summed = g.node('ReduceSum', [g.node('Gather', [table, 'input_ids'], { axis: 0 }), g.init('seq_axis', [1], new BigInt64Array([1n]))], { keepdims: 0 });
  const embeds = g.node('MatMul', [summed, g.init('text_projection', [inner, v.projection], randomWeights(inner * v.projection, 0.1, 98))]);
  g.output('text_embeds', embeds, ['batch_size', v.projection]);
}

export async function writeVitModel(dir: string, shape: VitShape = VIT_B_32): Promise<void> {
  mkdirSync(join(dir, 'onnx'), { recursive: true });
  const vision = createGraph('random_vit_vision');
  buildVision(vision, shape);
  await writeModel(join(dir, 'onnx', 'vision_model.onnx'), vision, RANDOM_NOTE, { random_weights: 'true' });
  const text = createGraph('random_vit_text');
  buildText(text, shape);
  await writeModel(join(dir, 'onnx', 'text_model.onnx'), text, RANDOM_NOTE, { random_weights: 'true' });
  const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
  await writeFileAtomic(join(dir, 'tokenizer.json'), JSON.stringify(buildClipTokenizerJson()));
  await writeFileAtomic(join(dir, 'tokenizer_config.json'), json(clipTokenizerConfig()));
  await writeFileAtomic(join(dir, 'preprocessor_config.json'), json(demoPreprocessorConfig(shape.image)));
  await writeFileAtomic(join(dir, 'config.json'), json({ model_type: 'clip', projection_dim: shape.projection, vision_config: shape, note: RANDOM_NOTE }));
}
