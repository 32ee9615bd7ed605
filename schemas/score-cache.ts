// What the score stage keeps under data/cache/ besides embeddings (stages/score/embedding-memo.ts):
// small JSON records, one file per key, read back through these schemas.
import { z } from 'zod';

/** One answer of a vision endpoint (cache/vqa/), per (image content, model, question). */
export const vqaAnswer = z.object({
  /** probability of yes among yes and no */
  p_yes: z.number().min(0).max(1),
  /** read from the answer token's log-probabilities, or from the answer text */
  source: z.enum(['logprobs', 'text']),
});
export type VqaAnswer = z.infer<typeof vqaAnswer>;

/** An image's pixel checks (cache/checks/), per (image content, checks code version). */
export const pixelChecksRecord = z.object({
  mean: z.number(),
  std: z.number(),
  blur: z.number(),
  phash: z.string().regex(/^[0-9a-f]{16}$/),
});
