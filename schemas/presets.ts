// The preset files sdgen imports through `parameters`: `*.adetailer.yaml` (one ADetailer
// detector) and `*.controlnet.yaml` (ControlNet units), and the forms `parameters.adetailer`
// and `parameters.controlnet` take. Field names and defaults are sdgen's own
// (ADetailerDetector and ControlNetUnit in oinant/local-sd-generator).
import { z } from 'zod';

/** Every ADetailer detector field with sdgen's default, in the order sdgen sends them. */
export const detectorDefaults = {
  ad_model: 'face_yolov8n.pt',
  ad_model_classes: '',
  ad_tab_enable: true,
  ad_prompt: '',
  ad_negative_prompt: '',
  ad_confidence: 0.3,
  ad_mask_filter_method: 'Area',
  ad_mask_k_largest: 0,
  ad_mask_min_ratio: 0.0,
  ad_mask_max_ratio: 1.0,
  ad_dilate_erode: 4,
  ad_x_offset: 0,
  ad_y_offset: 0,
  ad_mask_merge_invert: 'None',
  ad_mask_blur: 4,
  ad_denoising_strength: 0.4,
  ad_inpaint_only_masked: true,
  ad_inpaint_only_masked_padding: 32,
  ad_use_inpaint_width_height: false,
  ad_inpaint_width: 512,
  ad_inpaint_height: 512,
  ad_use_steps: false,
  ad_steps: 28,
  ad_use_cfg_scale: false,
  ad_cfg_scale: 7.0,
  ad_use_checkpoint: false,
  ad_checkpoint: null as string | null,
  ad_use_vae: false,
  ad_vae: null as string | null,
  ad_use_sampler: false,
  ad_sampler: 'DPM++ 2M Karras',
  ad_scheduler: 'Use same scheduler',
  ad_use_noise_multiplier: false,
  ad_noise_multiplier: 1.0,
  ad_use_clip_skip: false,
  ad_clip_skip: 1,
  ad_restore_face: false,
  ad_controlnet_model: 'None',
  ad_controlnet_module: 'None',
  ad_controlnet_weight: 1.0,
  ad_controlnet_guidance_start: 0.0,
  ad_controlnet_guidance_end: 1.0,
};
export type Detector = typeof detectorDefaults;

function fieldSchema(value: unknown): z.ZodType {
  if (typeof value === 'boolean') return z.boolean();
  if (typeof value === 'number') return z.number();
  if (value === null) return z.string().nullable();
  return z.union([z.string(), z.number()]).transform(String);
}

const detectorShape = Object.fromEntries(
  Object.entries(detectorDefaults).map(([key, value]) => [key, fieldSchema(value).optional()]),
) as Record<keyof Detector, z.ZodOptional<z.ZodType>>;

/** Unknown keys are errors: a misspelt `ad_promt` would otherwise be dropped without a word. */
export const detectorFields = z.strictObject(detectorShape);

export const adetailerFileSchema = z.looseObject({
  version: z.union([z.literal('2.0'), z.literal(2)]).describe('sdgen accepts "2.0" only'),
  name: z.string().optional(),
  description: z.string().optional(),
  detector: detectorFields.describe('one ADetailer pass: model, prompt, mask and inpaint settings'),
});

/** `face.adetailer.yaml`, `{import: face.adetailer.yaml, override: {...}}`, or a list of those. */
const adetailerImport = z.union([
  z.string().describe('a .adetailer.yaml file'),
  z.strictObject({ import: z.string(), override: detectorFields.optional() }),
]);
export const adetailerParameter = z.union([adetailerImport, z.array(adetailerImport).min(1)]);

/** Every ControlNet unit field with sdgen's default (`model` is required). */
export const unitDefaults = {
  image: null as unknown,
  module: 'none',
  weight: 1.0,
  guidance_start: 0.0,
  guidance_end: 1.0,
  processor_res: 512,
  threshold_a: 64.0,
  threshold_b: 128.0,
  resize_mode: 'Crop and Resize',
  control_mode: 'Balanced',
  pixel_perfect: false,
  low_vram: false,
  guess_mode: false,
};

export const controlnetUnit = z.strictObject({
  model: z.string().describe('e.g. control_v11p_sd15_canny'),
  image: z.union([z.string(), z.record(z.string(), z.null())]).nullable().optional()
    .describe('an image file, base64 data, or {Name}: one image per image from the variations Name'),
  module: z.string().optional(),
  weight: z.number().optional(),
  guidance_start: z.number().optional(),
  guidance_end: z.number().optional(),
  processor_res: z.number().int().optional(),
  threshold_a: z.number().optional(),
  threshold_b: z.number().optional(),
  resize_mode: z.string().optional(),
  control_mode: z.string().optional(),
  pixel_perfect: z.boolean().optional(),
  low_vram: z.boolean().optional(),
  guess_mode: z.boolean().optional(),
});
export type ControlnetUnitFields = z.infer<typeof controlnetUnit>;

export const controlnetFileSchema = z.looseObject({
  type: z.literal('controlnet_config'),
  version: z.union([z.literal('1.0'), z.literal(1)]).describe('sdgen accepts "1.0" only'),
  units: z.array(controlnetUnit).min(1),
});

/** A file, a list of files (a mapping among them overrides the first unit), or one inline unit. */
export const controlnetParameter = z.union([
  z.string().describe('a .controlnet.yaml file'),
  z.array(z.union([z.string(), controlnetUnit.partial()])).min(1),
  controlnetUnit,
]);

export function isAdetailerFile(name: string): boolean {
  return name.endsWith('.adetailer.yaml');
}

export function isControlnetFile(name: string): boolean {
  return name.endsWith('.controlnet.yaml');
}
