// The `score` params (pipeline.yaml `params: score:`), shared by the score stage and by
// the benchmark stage, which scores its images with the same scorer.
import { z } from 'zod';
import { derivation, operational } from '../../src/stage.js';
import { availableParallelism } from 'node:os';
import { DEVICE_PATTERN, deviceDefaults, parseDevice, type Device } from '../../adapters/onnx-device.js';
import { qualityThresholds } from './quality.js';

export const DEFAULT_PHRASINGS = ['a photo of {v}', '{v}', 'a picture of a person with {v}'];

const phrasing = z.string().refine((s) => s.includes('{v}'), { message: 'expected a phrasing containing {v}' });
const fraction = z.number().min(0).max(1);

export const zone = z.object({
  /** the variation axis this zone helps to read, e.g. HairColor */
  axis: z.string(),
  /** [x0, y0, x1, y1] as fractions of the image, e.g. [0, 0, 1, 0.5] for the top half */
  box: z.tuple([fraction, fraction, fraction, fraction]).refine(([x0, y0, x1, y1]) => x1 > x0 && y1 > y0, {
    message: 'expected a box [x0, y0, x1, y1] with x1 > x0 and y1 > y0',
  }),
});

/** A vision-language model asked yes/no per value where CLIP stays unsure (vqa.ts). */
export const vqaParams = z.object({
  /** an OpenAI-compatible base URL up to /v1; where it runs does not change what it answers */
  endpoint: operational(z.string().url()),
  model: z.string().min(1),
  /** asked only for axes whose CLIP certainty (top p minus second p) is under this */
  only_below_margin: fraction.default(0.3),
  question: z.string().refine((s) => s.includes('{v}'), { message: 'expected a question containing {v}' }).default('Does this image show {v}?'),
  concurrency: operational(z.number().int().positive().default(4)),
  timeout_s: operational(z.number().positive().default(60)),
  retries: operational(z.number().int().min(0).default(2)),
  backoff_ms: operational(z.number().int().min(0).default(500)),
});
export type VqaParams = z.infer<typeof vqaParams>;

export const scoreParams = z.object({
  /** `demo` (the built-in demo model) or a CLIP ONNX folder, relative to the project */
  model: z.string().default('demo'),
  variant: z.enum(['fp32', 'fp16', 'quantized']).default('fp32'),
  /** a second CLIP folder, asked when the first stays uncertain */
  fallback_model: z.string().nullable().default(null),
  // How the work is spread, never what it measures: operational. The same model gives the
  // same embeddings on every provider (to float rounding), so the device is operational too.
  /** cpu, cuda[:N], dml[:N] or coreml: the ONNX Runtime execution provider */
  device: operational(
    z.string().regex(DEVICE_PATTERN, { message: 'expected cpu, cuda, cuda:N, dml, dml:N or coreml' }).default('cpu'),
  ),
  /** images per model run; unset: 32 on the CPU, 128 on a GPU */
  batch_size: operational(z.number().int().positive().nullable().default(null)),
  /** ONNX Runtime intra-op threads; 0 lets it use every core */
  threads: operational(z.number().int().min(0).default(0)),
  /** worker threads that decode and preprocess while the model runs; 0 does it in-process; unset: by device */
  workers: operational(z.number().int().min(0).nullable().default(null)),
  /** prompt ensemble per axis name; `default` for axes without their own */
  phrasings: z.record(z.string(), z.array(phrasing).min(1)).default({ default: DEFAULT_PHRASINGS }),
  zones: z.record(z.string(), zone).default({}),
  /** below this certainty (top p minus second p) a zone crop, then the fallback model, is tried */
  cascade_margin: fraction.default(0.2),
  /** the VQA tier, off unless given */
  vqa: vqaParams.nullable().default(null),
  /** optional aesthetic head on the image embedding (aesthetic.ts): JSON {weights, bias}, a JSON state dict of Linear layers (LAION's predictor v2), or .onnx */
  aesthetic_head: z.string().nullable().default(null),
  // Thresholds over stored measurements are derivation params (derive.ts), except the
  // blank-frame ones: a blank frame is never read by CLIP, so they decide what is measured.
  thresholds: qualityThresholds
    .extend({
      blur: derivation(qualityThresholds.shape.blur),
      duplicate_distance: derivation(qualityThresholds.shape.duplicate_distance),
      success: derivation(fraction.default(0.8)),
      partial: derivation(fraction.default(0.5)),
      /** p_target at or above which an axis counts as matched */
      matched: derivation(fraction.default(0.5)),
      /** an image is flagged when under this fraction of its axes matched */
      flagged: derivation(fraction.default(0.7)),
    })
    .prefault({}),
});

export type ScoreParams = z.infer<typeof scoreParams>;

/** The stage's ctx.params: only the `score` block of pipeline.yaml. */
export const scoreStageParams = z.object({ score: scoreParams.prefault({}) });
export type ScoreStageParams = z.infer<typeof scoreStageParams>;

export function phrasingsFor(params: ScoreParams, axis: string): string[] {
  return params.phrasings[axis] ?? params.phrasings.default ?? DEFAULT_PHRASINGS;
}

export interface Execution {
  device: Device;
  batchSize: number;
  workers: number;
}

/** The device and the batch size and workers it gets when the params leave them unset. */
export function executionOf(params: ScoreParams, cores: number = availableParallelism()): Execution {
  const device = parseDevice(params.device);
  const defaults = deviceDefaults(device, cores);
  return { device, batchSize: params.batch_size ?? defaults.batchSize, workers: params.workers ?? defaults.workers };
}
