// The session files sdgen wrote over its lifetime, as the ingest stage reads them. Every
// schema is loose: sdgen added fields release by release, and a field we do not use must
// never make a user's session unreadable. Only what ingest relies on is required.
import { z } from 'zod';

const text = z.union([z.string(), z.number()]).transform(String);
const seed = z.number().int().catch(-1);

/** `images[]` of manifest.json: successes only, so a gap in the index is a failed image. */
export const v2ManifestImage = z.looseObject({
  filename: z.string(),
  seed: seed.optional(),
  prompt: z.string().default(''),
  negative_prompt: z.string().default(''),
  applied_variations: z.record(z.string(), text).default({}),
});

/** `snapshot.variations`: per placeholder the value TEXTS it could take and took. */
export const v2VariationSummary = z.looseObject({
  available: z.array(text).default([]),
  used: z.array(text).default([]),
  count: z.number().optional(),
});

export const v2Manifest = z.looseObject({
  snapshot: z.looseObject({
    /** "2.0", or "2.0-inferred" for manifests reconstructed for legacy sessions: match by prefix */
    version: z.string().refine((v) => v.startsWith('2.'), { message: 'expected a version starting with "2."' }),
    timestamp: z.string().optional(),
    inference_info: z.looseObject({ source: z.string().optional(), confidence: z.string().optional(), errors: z.array(z.unknown()).optional() }).optional(),
    runtime_info: z.looseObject({ sd_model_checkpoint: z.string().optional() }).optional(),
    resolved_template: z.looseObject({ prompt: z.string().optional(), negative: z.string().optional() }).optional(),
    generation_params: z.looseObject({ num_images: z.number().int().optional(), seed_list: z.array(z.number()).optional() }).optional(),
    api_params: z.record(z.string(), z.unknown()).optional(),
    variations: z.record(z.string(), v2VariationSummary).default({}),
    fixed_placeholders: z.record(z.string(), text).default({}),
    theme_name: z.string().nullable().optional(),
    style: z.string().nullable().optional(),
    output: z.looseObject({ annotations: z.unknown().optional() }).optional(),
  }),
  images: z.array(v2ManifestImage).default([]),
  /** absent before 2025-11-11 */
  status: z.enum(['ongoing', 'completed', 'aborted']).optional(),
});

/** October 2025 `<session>_manifest.json`: every PLANNED prompt, written before generation. */
export const octoberManifest = z.looseObject({
  session_name: z.string(),
  template_source: z.string().optional(),
  generated_at: z.string().optional(),
  total_variations: z.number().int().optional(),
  templating_system: z.string().optional(),
  variations: z.array(z.looseObject({
    index: z.number().int(),
    prompt: z.string().default(''),
    negative_prompt: z.string().default(''),
    /** -1 when the seed was random */
    seed: seed.default(-1),
    variations: z.record(z.string(), text).default({}),
    parameters: z.record(z.string(), z.unknown()).default({}),
  })),
});

/** V1 `metadata.json`: value lists cut to 10 plus "... and N more". */
export const v1Metadata = z.looseObject({
  version: z.literal('1.0'),
  generation_info: z.record(z.string(), z.unknown()).optional(),
  prompt: z.looseObject({ template: z.string().default(''), negative: z.string().default(''), example_resolved: z.string().optional() }),
  variations: z.record(z.string(), z.looseObject({ count: z.number().optional(), values: z.array(text).default([]) })).default({}),
  generation: z.looseObject({
    mode: z.string().optional(),
    seed_mode: z.string().optional(),
    seed: z.number().int().optional(),
    total_combinations: z.number().int().optional(),
    images_generated: z.number().int().optional(),
  }).default({}),
  parameters: z.record(z.string(), z.unknown()).default({}),
  output: z.looseObject({ folder: z.string().optional(), filename_keys: z.array(z.string()).optional() }).optional(),
});

export type V2Manifest = z.infer<typeof v2Manifest>;
export type OctoberManifest = z.infer<typeof octoberManifest>;
export type V1Metadata = z.infer<typeof v1Metadata>;
