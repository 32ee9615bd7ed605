// A CLIP model in the Hugging Face / Xenova ONNX export layout: split
// onnx/vision_model.onnx + onnx/text_model.onnx, or one combined onnx/model.onnx, each
// optionally as an _fp16 / _quantized variant. Embeddings come back L2-normalised.
import { existsSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { InputError } from '../src/errors.js';
import { hashFile, hashValue } from '../src/hash.js';
import { CLIP_CONTEXT, EOT_ID, loadClipTokenizer, type ClipTokenizer } from './clip-tokenizer.js';
import { readPreprocess, type Preprocess } from './clip-preprocess.js';
import { checkDevice, executionProviders, formatDevice, loadOnnxRuntime, probeRuntime, sessionFailure, type Device } from './onnx-device.js';

export type ClipVariant = 'fp32' | 'fp16' | 'quantized';

export interface ClipModelOptions {
  variant?: ClipVariant;
  /** ONNX Runtime intra-op threads; 0 lets ONNX Runtime choose. */
  threads?: number;
  /** How the model is named in output tables; defaults to the folder name (+ variant). */
  name?: string;
  /** Where ONNX Runtime runs it; cpu unless given. */
  device?: Device;
}

export interface ClipModel {
  name: string;
  /** Hash of the ONNX files in use: a change of weights changes it. */
  identity: string;
  /** Hash of the file that embeds images (the combined file when there is one) */
  visionIdentity: string;
  /** Hash of the file that embeds texts */
  textIdentity: string;
  layout: 'split' | 'combined';
  dim: number;
  /** the device the sessions run on, as cpu or cuda:N */
  device: string;
  preprocess: Preprocess;
  tokenizer: ClipTokenizer;
  /** Each entry one preprocessed image (3 x H x W); one unit vector per image. */
  embedImages(pixels: Float32Array[]): Promise<Float32Array[]>;
  /** One unit vector per text, cached per (model, text). */
  embedTexts(texts: string[]): Promise<Float32Array[]>;
  close(): Promise<void>;
}

const SUFFIX: Record<ClipVariant, string> = { fp32: '', fp16: '_fp16', quantized: '_quantized' };

interface Layout {
  layout: 'split' | 'combined';
  files: { vision: string; text: string } | { combined: string };
}

/** Which ONNX files of the folder the variant uses; says what it looked for when none fit. */
export function findLayout(dir: string, variant: ClipVariant = 'fp32'): Layout {
  const suffix = SUFFIX[variant];
  const vision = join(dir, 'onnx', `vision_model${suffix}.onnx`);
  const text = join(dir, 'onnx', `text_model${suffix}.onnx`);
  const combined = join(dir, 'onnx', `model${suffix}.onnx`);
  if (existsSync(vision) && existsSync(text)) return { layout: 'split', files: { vision, text } };
  if (existsSync(combined)) return { layout: 'combined', files: { combined } };
  throw new InputError(
    `expected a CLIP ONNX export (${variant}): onnx/vision_model${suffix}.onnx with onnx/text_model${suffix}.onnx, or onnx/model${suffix}.onnx`,
    { file: dir, field: 'score.model' },
  );
}

/** Fail at load, naming expected and found tensors, rather than deep inside a run. */
export function checkTensorNames(
  file: string,
  session: Pick<InferenceSession, 'inputNames' | 'outputNames'>,
  expect: { inputs: string[]; optionalInputs?: string[]; outputs: string[] },
): void {
  const allowed = new Set([...expect.inputs, ...(expect.optionalInputs ?? [])]);
  const missingIn = expect.inputs.filter((n) => !session.inputNames.includes(n));
  const unknownIn = session.inputNames.filter((n) => !allowed.has(n));
  const missingOut = expect.outputs.filter((n) => !session.outputNames.includes(n));
  if (missingIn.length + unknownIn.length + missingOut.length === 0) return;
  const optional = expect.optionalInputs?.length ? ` (optionally ${expect.optionalInputs.join(', ')})` : '';
  throw new InputError(
    `expected inputs [${expect.inputs.join(', ')}]${optional} and outputs including [${expect.outputs.join(', ')}]; ` +
      `found inputs [${session.inputNames.join(', ')}] and outputs [${session.outputNames.join(', ')}]`,
    { file },
  );
}

function f32ToF16(value: number): number {
  const f = new Float32Array([value]);
  const x = new Uint32Array(f.buffer)[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  const mant = x & 0x7fffff;
  if (exp <= 0) return sign | (exp < -10 ? 0 : ((mant | 0x800000) >> (1 - exp + 13)));
  if (exp >= 31) return sign | 0x7c00;
  // Adding, not or-ing, lets a rounding carry move into the exponent.
  return sign | ((exp << 10) + ((mant + 0x1000) >> 13));
}

function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (mant / 1024);
  if (exp === 31) return mant ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + mant / 1024);
}

function normalized(data: ArrayLike<number>, row: number, dim: number): Float32Array {
  const v = new Float32Array(dim);
  let norm = 0;
  for (let i = 0; i < dim; i++) {
    v[i] = data[row * dim + i];
    norm += v[i] * v[i];
  }
  norm = Math.sqrt(norm) || 1;
  for (let i = 0; i < dim; i++) v[i] /= norm;
  return v;
}

async function openSession(file: string, threads: number, device: Device): Promise<InferenceSession> {
  const ort = await loadOnnxRuntime();
  try {
    return await ort.InferenceSession.create(file, {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      executionProviders: executionProviders(device),
    });
  } catch (err) {
    // A GPU that fails here is the machine's problem, not the model file's.
    if (device.kind !== 'cpu') throw sessionFailure(device, err as Error);
    throw new InputError(`expected a loadable ONNX model: ${(err as Error).message}`, { file });
  }
}

function inputType(session: InferenceSession, name: string): string {
  const meta = session.inputMetadata.find((m) => m.name === name);
  return meta && meta.isTensor ? meta.type : 'float32';
}

/** How to hash a model file: the engine's stat-cached ctx.fileHash, so a 2 GB model is read once, not on every status. */
export type FileHasher = (path: string) => Promise<string>;

async function identityOf(files: string[], fileHash: FileHasher): Promise<string> {
  const parts: string[] = [];
  for (const file of files) parts.push(await fileHash(file));
  return hashValue(parts);
}

/** Hash of the ONNX files a folder's variant would load. */
export async function modelIdentity(dir: string, variant: ClipVariant = 'fp32', fileHash: FileHasher = hashFile): Promise<string> {
  const { files } = findLayout(dir, variant);
  return identityOf('combined' in files ? [files.combined] : [files.vision, files.text], fileHash);
}

export async function loadClipModel(dir: string, options: ClipModelOptions = {}): Promise<ClipModel> {
  const variant = options.variant ?? 'fp32';
  const threads = options.threads ?? 0;
  const device = options.device ?? { kind: 'cpu', index: 0 };
  // Before anything is read: a missing provider should cost no decode and no model load.
  checkDevice(device, await probeRuntime());
  const found = findLayout(dir, variant);
  const ort = await loadOnnxRuntime();
  const preprocess = readPreprocess(dir);
  const tokenizer = await loadClipTokenizer(existsSync(join(dir, 'tokenizer.json')) ? dir : undefined);
  const imageShape = [3, preprocess.cropHeight, preprocess.cropWidth];

  let vision: InferenceSession;
  let text: InferenceSession;
  let files: string[];
  if ('combined' in found.files) {
    const file = found.files.combined;
    vision = text = await openSession(file, threads, device);
    checkTensorNames(relative(dir, file), vision, {
      inputs: ['input_ids', 'attention_mask', 'pixel_values'],
      outputs: ['image_embeds', 'text_embeds'],
    });
    files = [file];
  } else {
    const { vision: vFile, text: tFile } = found.files;
    vision = await openSession(vFile, threads, device);
    checkTensorNames(relative(dir, vFile), vision, { inputs: ['pixel_values'], outputs: ['image_embeds'] });
    text = await openSession(tFile, threads, device);
    checkTensorNames(relative(dir, tFile), text, {
      inputs: ['input_ids'],
      optionalInputs: ['attention_mask'],
      outputs: ['text_embeds'],
    });
    files = [vFile, tFile];
  }
  const combined = found.layout === 'combined';

  const pixelTensor = (batch: Float32Array[]): Tensor => {
    const size = imageShape[0] * imageShape[1] * imageShape[2];
    const data = new Float32Array(batch.length * size);
    batch.forEach((p, i) => data.set(p, i * size));
    const dims = [batch.length, ...imageShape];
    if (inputType(vision, 'pixel_values') !== 'float16') return new ort.Tensor('float32', data, dims);
    return new ort.Tensor('float16', Uint16Array.from(data, f32ToF16), dims);
  };
  const idTensors = (ids: number[][]): Record<string, Tensor> => {
    const dims = [ids.length, CLIP_CONTEXT];
    const flat = BigInt64Array.from(ids.flat(), (n) => BigInt(n));
    // Attend up to and including the first EOT; the padding after it is also EOT.
    const mask = BigInt64Array.from(ids.flatMap((row) => row.map((_, i) => (i <= row.indexOf(EOT_ID) ? 1n : 0n))));
    const feeds: Record<string, Tensor> = { input_ids: new ort.Tensor('int64', flat, dims) };
    if (text.inputNames.includes('attention_mask')) feeds.attention_mask = new ort.Tensor('int64', mask, dims);
    return feeds;
  };
  const rows = (tensor: Tensor): Float32Array[] => {
    const [count, dim] = tensor.dims;
    const data = tensor.type === 'float16' ? Array.from(tensor.data as Uint16Array, f16ToF32) : (tensor.data as Float32Array);
    return Array.from({ length: count }, (_, i) => normalized(data, i, dim));
  };

  const embedImages = async (pixels: Float32Array[]): Promise<Float32Array[]> => {
    if (pixels.length === 0) return [];
    const feeds: Record<string, Tensor> = { pixel_values: pixelTensor(pixels) };
    if (combined) Object.assign(feeds, idTensors([new Array(CLIP_CONTEXT).fill(EOT_ID)]));
    const out = await vision.run(feeds, ['image_embeds']);
    return rows(out.image_embeds);
  };

  const cache = new Map<string, Float32Array>();
  const embedTexts = async (texts: string[]): Promise<Float32Array[]> => {
    const missing = [...new Set(texts.filter((t) => !cache.has(t)))];
    if (missing.length > 0) {
      const feeds = idTensors(missing.map((t) => tokenizer.encodeClip(t)));
      if (combined) feeds.pixel_values = pixelTensor([new Float32Array(imageShape[0] * imageShape[1] * imageShape[2])]);
      const out = await text.run(feeds, ['text_embeds']);
      rows(out.text_embeds).forEach((v, i) => cache.set(missing[i], v));
    }
    return texts.map((t) => cache.get(t)!);
  };

  const probe = await embedTexts(['a photo']);
  const fileHashes = await Promise.all(files.map((f) => hashFile(f)));
  const suffix = variant === 'fp32' ? '' : `:${variant}`;
  return {
    name: options.name ?? `${basename(dir)}${suffix}`,
    // Hashed once here: a ViT-L/14 export is gigabytes.
    identity: hashValue(fileHashes),
    visionIdentity: hashValue([fileHashes[0]]),
    textIdentity: hashValue([fileHashes[fileHashes.length - 1]]),
    layout: found.layout,
    dim: probe[0].length,
    device: formatDevice(device),
    preprocess,
    tokenizer,
    embedImages,
    embedTexts,
    async close() {
      await vision.release();
      if (text !== vision) await text.release();
    },
  };
}
