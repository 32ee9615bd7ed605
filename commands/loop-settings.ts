// pipeline.yaml `params: loop:`, read by `pipeline loop` (no stage reads it).
import { z } from 'zod';

export const loopSettings = z.object({
  focused_images: z.number().int().positive().default(48).describe('--targeted: prompts per prompt file rendered holding the target value'),
  keep_fraction: z.number().gt(0).max(1).default(0.25).describe('--targeted: the share of the target value\'s images that goes into the micro-LoRA\'s dataset'),
  max_stack: z.number().int().positive().default(4).describe('promoted LoRAs at most: a winner past this is not promoted'),
  promote: z.enum(['stack', 'merge']).default('stack')
    .describe("stack: the winner joins the LoRAs in every prompt; merge: it is folded into a new checkpoint with sd-scripts' merge script"),
  per_theme: z.boolean().default(false)
    .describe('a LoRA per theme (resolve.theme): each trained on its theme\'s best images, judged on its theme\'s prompts, applied to them alone'),
  checkpoint_dir: z.string().nullable().default(null)
    .describe("merge: the WebUI's models/Stable-diffusion folder; the merged checkpoint is copied there and the WebUI refreshed"),
  min_images: z.number().int().positive().default(8).describe('--targeted: values with fewer scored images are not targeted yet'),
});
export type LoopSettings = z.infer<typeof loopSettings>;
