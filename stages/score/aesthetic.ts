// Aesthetic heads over the unit image embedding, in the forms people have them:
// - JSON {weights, bias}: a linear head (quality.ts);
// - JSON of a PyTorch state dict of Linear layers ("layers.0.weight": [[...]], "layers.0.bias":
//   [...], ...): LAION's aesthetic predictor v2 (improved-aesthetic-predictor, an MLP
//   768 -> 1024 -> 128 -> 64 -> 16 -> 1 on ViT-L/14 embeddings) exported with
//   `json.dump({k: v.tolist() for k, v in sd.items()})`. Its layers have no activation
//   between them (the dropouts are identity at inference), so none is applied;
// - an ONNX file with one [B, dim] input and one [B, 1] output.
import { readFileSync } from 'node:fs';
import type { InferenceSession } from 'onnxruntime-node';
import { z } from 'zod';
import { InputError } from '../../src/errors.js';
import { aestheticScore, readAestheticHead } from './quality.js';
import { loadOnnxRuntime } from '../../adapters/onnx-device.js';

export interface AestheticModel {
  /** one score per embedding */
  score(embeddings: Float32Array[]): Promise<number[]>;
  close(): Promise<void>;
}

interface Dense {
  weight: number[][];
  bias: number[];
}

const stateDict = z.record(z.string(), z.union([z.array(z.array(z.number())), z.array(z.number())]));

/** The Linear layers of a state dict, in the order of their index ("layers.0", "layers.2", ...). */
export function denseLayers(dict: Record<string, number[][] | number[]>, file: string): Dense[] {
  const names = [...new Set(Object.keys(dict).filter((k) => k.endsWith('.weight')).map((k) => k.slice(0, -'.weight'.length)))];
  const index = (name: string) => Number(/(\d+)$/.exec(name)?.[1] ?? NaN);
  names.sort((a, b) => index(a) - index(b));
  const layers = names.map((name) => ({ weight: dict[`${name}.weight`] as number[][], bias: (dict[`${name}.bias`] as number[] | undefined) ?? [] }));
  layers.forEach((l, i) => {
    const inWidth = l.weight[0]?.length;
    if (!Array.isArray(l.weight[0]) || l.bias.length !== l.weight.length) {
      throw new InputError(`expected ${names[i]}.weight as [out][in] and ${names[i]}.bias of length out`, { file, field: 'score.aesthetic_head' });
    }
    if (i > 0 && inWidth !== layers[i - 1].weight.length) {
      throw new InputError(`${names[i]} takes ${inWidth} inputs but ${names[i - 1]} gives ${layers[i - 1].weight.length}`, { file, field: 'score.aesthetic_head' });
    }
  });
  if (layers.length === 0 || layers.at(-1)!.weight.length !== 1) {
    throw new InputError('expected Linear layers ending in one output', { file, field: 'score.aesthetic_head' });
  }
  return layers;
}

export function mlpScore(layers: Dense[], embedding: Float32Array): number {
  let x: ArrayLike<number> = embedding;
  for (const { weight, bias } of layers) {
    const input = x;
    x = weight.map((row, o) => row.reduce((s, w, i) => s + w * input[i], bias[o]));
  }
  return x[0];
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new InputError(`expected a JSON aesthetic head: ${(err as Error).message}`, { file, field: 'score.aesthetic_head' });
  }
}

function jsonHead(file: string, dim: number): AestheticModel {
  const raw = readJson(file);
  if (raw && typeof raw === 'object' && 'weights' in raw) {
    const head = readAestheticHead(file, dim);
    return { score: async (es) => es.map((e) => aestheticScore(head, e)), close: async () => undefined };
  }
  const dict = stateDict.safeParse(raw);
  if (!dict.success) throw new InputError('expected {"weights": [...], "bias": n} or a state dict of Linear layers', { file, field: 'score.aesthetic_head' });
  const layers = denseLayers(dict.data, file);
  if (layers[0].weight[0].length !== dim) {
    throw new InputError(`expected a first layer of ${dim} inputs (the model's embedding size), found ${layers[0].weight[0].length}`, { file, field: 'score.aesthetic_head' });
  }
  return { score: async (es) => es.map((e) => mlpScore(layers, e)), close: async () => undefined };
}

async function onnxHead(file: string, dim: number): Promise<AestheticModel> {
  const ort = await loadOnnxRuntime();
  let session: InferenceSession;
  try {
    session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1 });
  } catch (err) {
    throw new InputError(`expected a loadable ONNX aesthetic head: ${(err as Error).message}`, { file, field: 'score.aesthetic_head' });
  }
  if (session.inputNames.length !== 1 || session.outputNames.length !== 1) {
    throw new InputError(`expected one input [B, ${dim}] and one output [B, 1]; found inputs [${session.inputNames}] and outputs [${session.outputNames}]`, { file });
  }
  const [input, output] = [session.inputNames[0], session.outputNames[0]];
  return {
    async score(embeddings) {
      if (embeddings.length === 0) return [];
      const data = new Float32Array(embeddings.length * dim);
      embeddings.forEach((e, i) => data.set(e, i * dim));
      const out = await session.run({ [input]: new ort.Tensor('float32', data, [embeddings.length, dim]) });
      return Array.from(out[output].data as Float32Array);
    },
    close: () => session.release(),
  };
}

/** The head a file holds, by its extension: .onnx, else JSON. */
export async function loadAestheticHead(file: string, dim: number): Promise<AestheticModel> {
  return file.endsWith('.onnx') ? onnxHead(file, dim) : jsonHead(file, dim);
}
