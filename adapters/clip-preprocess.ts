// CLIP image preprocessing as Hugging Face's CLIPImageProcessor does it, with sharp:
// RGB, shortest edge to 224 (bicubic), centre crop with floored offsets, 1/255, mean/std,
// NCHW float32. Values come from the model folder's preprocessor_config.json.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { InputError } from '../src/errors.js';

/**
 * Bump when the resize, crop or normalisation code changes what a model is fed: stored
 * image embeddings are keyed by it, as a config change keys them by the config.
 */
export const PREPROCESS_CODE_VERSION = '1';

export const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073];
export const CLIP_STD = [0.26862954, 0.26130258, 0.27577711];

const sizeField = z.union([
  z.number().int().positive(),
  z.object({ shortest_edge: z.number().int().positive() }),
  z.object({ height: z.number().int().positive(), width: z.number().int().positive() }),
]);

/** The fields of preprocessor_config.json that matter here; others are ignored. */
export const preprocessorConfigSchema = z.looseObject({
  do_resize: z.boolean().default(true),
  size: sizeField.default({ shortest_edge: 224 }),
  do_center_crop: z.boolean().default(true),
  crop_size: sizeField.default({ height: 224, width: 224 }),
  do_rescale: z.boolean().default(true),
  rescale_factor: z.number().positive().default(1 / 255),
  do_normalize: z.boolean().default(true),
  image_mean: z.array(z.number()).length(3).default(CLIP_MEAN),
  image_std: z.array(z.number()).length(3).default(CLIP_STD),
});

export interface Preprocess {
  /** Shortest edge after resizing, or null to skip resizing. */
  shortestEdge: number | null;
  cropWidth: number;
  cropHeight: number;
  scale: number;
  mean: number[];
  std: number[];
}

function edgeOf(size: z.infer<typeof sizeField>): number {
  if (typeof size === 'number') return size;
  return 'shortest_edge' in size ? size.shortest_edge : Math.min(size.height, size.width);
}

function cropOf(size: z.infer<typeof sizeField>): [number, number] {
  if (typeof size === 'number') return [size, size];
  return 'shortest_edge' in size ? [size.shortest_edge, size.shortest_edge] : [size.width, size.height];
}

export function preprocessFromConfig(raw: unknown, file = 'preprocessor_config.json'): Preprocess {
  const parsed = preprocessorConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InputError(`expected a CLIP preprocessor config: ${issue.message}`, { file, field: issue.path.join('.') });
  }
  const c = parsed.data;
  const [cropWidth, cropHeight] = c.do_center_crop ? cropOf(c.crop_size) : cropOf(c.size);
  return {
    shortestEdge: c.do_resize ? edgeOf(c.size) : null,
    cropWidth,
    cropHeight,
    scale: c.do_rescale ? c.rescale_factor : 1,
    mean: c.do_normalize ? c.image_mean : [0, 0, 0],
    std: c.do_normalize ? c.image_std : [1, 1, 1],
  };
}

/** The model folder's preprocessor_config.json, or CLIP's defaults when it has none. */
export function readPreprocess(modelDir: string): Preprocess {
  const file = join(modelDir, 'preprocessor_config.json');
  if (!existsSync(file)) return preprocessFromConfig({});
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new InputError(`expected JSON: ${(err as Error).message}`, { file });
  }
  return preprocessFromConfig(raw, file);
}

/** Packed 8-bit RGB pixels, row-major. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/** Decode any image sharp reads to packed RGB (alpha dropped, as PIL's convert('RGB') does). */
export async function decodeRgb(bytes: Uint8Array): Promise<RgbImage> {
  const sharp = (await import('sharp')).default;
  const { data, info } = await sharp(bytes).toColourspace('srgb').removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
}

/** Hugging Face's shortest-edge rule: the long side is truncated, not rounded. */
export function resizedSize(width: number, height: number, edge: number): [number, number] {
  return width <= height ? [edge, Math.floor((edge * height) / width)] : [Math.floor((edge * width) / height), edge];
}

/** A box of fractions [x0, y0, x1, y1] of the image, in whole pixels, at least 1x1. */
export function boxPixels(box: number[], width: number, height: number) {
  const left = Math.min(width - 1, Math.max(0, Math.floor(box[0] * width)));
  const top = Math.min(height - 1, Math.max(0, Math.floor(box[1] * height)));
  const right = Math.max(left + 1, Math.min(width, Math.round(box[2] * width)));
  const bottom = Math.max(top + 1, Math.min(height, Math.round(box[3] * height)));
  return { left, top, width: right - left, height: bottom - top };
}

/** RGB pixels (optionally a zone of them) -> one NCHW float32 tensor of 3 x cropH x cropW. */
export async function preprocessRgb(image: RgbImage, p: Preprocess, box?: number[]): Promise<Float32Array> {
  const sharp = (await import('sharp')).default;
  let pipeline = sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } });
  let width = image.width;
  let height = image.height;
  if (box) {
    const region = boxPixels(box, width, height);
    pipeline = pipeline.extract(region);
    ({ width, height } = region);
  }
  if (p.shortestEdge !== null) {
    const [w, h] = resizedSize(width, height, p.shortestEdge);
    if (w !== width || h !== height) pipeline = pipeline.resize(w, h, { kernel: 'cubic', fit: 'fill' });
    [width, height] = [w, h];
  }
  const left = Math.floor((width - p.cropWidth) / 2);
  const top = Math.floor((height - p.cropHeight) / 2);
  if (left < 0 || top < 0) {
    throw new Error(`image of ${width}x${height} is smaller than the model's ${p.cropWidth}x${p.cropHeight} crop`);
  }
  if (width !== p.cropWidth || height !== p.cropHeight) {
    pipeline = pipeline.extract({ left, top, width: p.cropWidth, height: p.cropHeight });
  }
  const pixels = await pipeline.raw().toBuffer();
  return toNchw(pixels, p);
}

/** 8-bit HWC RGB -> float32 CHW with rescale and normalisation. */
export function toNchw(pixels: Uint8Array, p: Preprocess): Float32Array {
  const plane = p.cropWidth * p.cropHeight;
  const out = new Float32Array(3 * plane);
  for (let ch = 0; ch < 3; ch++) {
    const gain = p.scale / p.std[ch];
    const shift = p.mean[ch] / p.std[ch];
    const base = ch * plane;
    for (let i = 0; i < plane; i++) out[base + i] = pixels[i * 3 + ch] * gain - shift;
  }
  return out;
}

export async function preprocessImage(bytes: Uint8Array, p: Preprocess, box?: number[]): Promise<Float32Array> {
  return preprocessRgb(await decodeRgb(bytes), p, box);
}
