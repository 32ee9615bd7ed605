// What the score stage keeps of one answer of a vision endpoint (data/cache/vqa/<2 hex>/<key>.json):
// memoised per (image content, model, question), so a re-score asks nothing twice.
import { z } from 'zod';

export const vqaAnswer = z.object({
  /** probability of yes among yes and no */
  p_yes: z.number().min(0).max(1),
  /** read from the answer token's log-probabilities, or from the answer text */
  source: z.enum(['logprobs', 'text']),
});
export type VqaAnswer = z.infer<typeof vqaAnswer>;
