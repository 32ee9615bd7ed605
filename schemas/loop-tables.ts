// Row schemas of what training, the benchmark and the loop write: the LoRA a train stage
// made, the benchmark's per-value rates, verdict, diversity and agreement tables, and the
// loop's state tables (rounds, promoted LoRAs). schemas/tables.ts re-exports them.
import { z } from 'zod';

export const loraInfoRow = z.object({
  name: z.string(),
  hash: z.string(),
  path: z.string(),
  trainer: z.string(),
  dim: z.number().int(),
  alpha: z.number(),
  images: z.number().int(),
  steps: z.number().int(),
  base_model: z.string(),
  duration_s: z.number(),
  epoch: z.number().int().describe('the epoch this file was saved at: the last for the final file, earlier ones with train.save_every_n_epochs'),
});

export const benchmarkRow = z.object({
  arm: z.enum(['baseline', 'candidate']),
  axis: z.string(),
  value: z.string(),
  n: z.number().int(),
  successes: z.number().int(),
  rate: z.number(),
  ci_low: z.number(),
  ci_high: z.number(),
  mean_p_target: z.number(),
});

export const benchmarkSummaryRow = z.object({
  lora: z.string().describe('the chosen file: the final LoRA or one saved at an earlier epoch'),
  epoch: z.number().int().describe('the epoch the chosen file was saved at'),
  weight: z.number().describe('the chosen weight W in <lora:NAME:W>'),
  points: z.number().int().describe('(epoch, weight) points tried; each was tested at benchmark.alpha / (points + benchmark.stack_points when the stack is re-tuned)'),
  stack: z.array(z.string()).describe('the promoted LoRAs at the weights the chosen point gave them (name:weight), when the stack was re-tuned; empty otherwise'),
  pairs: z.number().int().describe('benchmark prompts rendered in both arms on the same seed'),
  baseline_only: z.number().int().describe('pairs only the baseline got right'),
  candidate_only: z.number().int().describe('pairs only the candidate got right'),
  baseline_adherence: z.number(),
  candidate_adherence: z.number(),
  difference: z.number(),
  diff_ci_low: z.number().describe("Newcombe's paired interval (method 10), 95%"),
  diff_ci_high: z.number(),
  p_value: z.number().describe("McNemar's exact test, one-sided: the candidate wins more pairs than it loses"),
  p_two_sided: z.number(),
  worst_regression: z.number(),
  worst_diversity_fall: z.number().describe("the largest relative fall of one value's mean pairwise embedding distance; 0 when none fell"),
  verdict: z.enum(['promote', 'reject']),
  reason: z.string(),
  judge_verdict: z.enum(['promote', 'reject']).nullable().describe('benchmark.judge: the second scoring model\'s own verdict; null without one'),
  judge_p_value: z.number().nullable(),
});

/** How the benchmark judged one candidate arm: the columns an epoch x weight point and a stack weighting share. */
const judgedArm = {
  candidate_adherence: z.number(),
  difference: z.number(),
  p_value: z.number(),
  worst_regression: z.number(),
  worst_diversity_fall: z.number(),
  verdict: z.enum(['promote', 'reject']),
  reason: z.string(),
  chosen: z.boolean(),
};

/** One (saved epoch, weight) point the benchmark tried; the chosen one is benchmark_summary. */
export const benchmarkPointRow = z.object({
  lora: z.string(),
  epoch: z.number().int(),
  weight: z.number(),
  ...judgedArm,
});

/** One weighting of the whole stack the benchmark tried (benchmark.stack_weights); the first is the chosen epoch x weight point. */
export const benchmarkStackRow = z.object({
  stack: z.array(z.string()).describe("every LoRA the candidate arm's prompts carried, as name:weight, the candidate last"),
  ...judgedArm,
});

/** One benchmark picture (kept in the store): what `pipeline label` accepts ids of, so kappa can be had. */
export const benchmarkImageRow = z.object({
  image_id: z.string(),
  arm: z.enum(['baseline', 'candidate']),
  lora: z.string().nullable().describe('the candidate file; null for the baseline'),
  weight: z.number().nullable(),
  prompt_id: z.string(),
  seed: z.number().int(),
  axis: z.string(),
  value: z.string().describe('the value the benchmark prompt asked for'),
  path: z.string().describe('the PNG in the store, relative to the project'),
});

/** The spread of one value's benchmark images in one arm (the diversity guard). */
export const benchmarkDiversityRow = z.object({
  arm: z.enum(['baseline', 'candidate']),
  axis: z.string(),
  value: z.string(),
  n: z.number().int().describe('images scored (failed and blank renders have no embedding)'),
  mean_distance: z.number().nullable().describe('mean pairwise cosine distance of the image embeddings; null under two images'),
  near_duplicate_rate: z.number().describe('share of images with another within benchmark.near_duplicate_distance'),
});

/** Agreement of a scorer with people's labels on benchmark images (Cohen's kappa per axis). */
export const benchmarkAgreementRow = z.object({
  rater: z.enum(['score', 'judge']),
  axis: z.string(),
  n: z.number().int().describe('benchmark images with a human label on this axis'),
  observed: z.number().describe('fraction where the scorer read the value the person gave'),
  expected: z.number().describe('the agreement chance alone would give, from both marginals'),
  kappa: z.number().nullable().describe('null when chance agreement is 1 (one value only)'),
});

/** One round of `pipeline loop`, in the state table loop_rounds (not a stage output). */
export const loopRoundRow = z.object({
  round: z.number().int(),
  started_at: z.string(),
  finished_at: z.string().nullable().describe('null while the round runs, or after it was killed (it resumes)'),
  target: z.string().nullable().describe('--targeted: the Axis=value the round trained for'),
  theme: z.string().nullable().describe('loop.per_theme: the theme whose images the round trained on; null for every theme'),
  lora: z.string().nullable(),
  adherence_before: z.number().nullable(),
  adherence_after: z.number().nullable(),
  verdict: z.enum(['running', 'promote', 'reject', 'failed']),
  reason: z.string(),
  promoted: z.array(z.string()).describe('the promoted LoRAs after the round'),
});

/** A LoRA the loop promoted, in the state table promoted_loras; generate uses every one. */
export const promotedLoraRow = z.object({
  name: z.string(),
  hash: z.string(),
  path: z.string().describe('data/models/lora/<name>.safetensors'),
  weight: z.number(),
  round: z.number().int(),
  promoted_at: z.string(),
  theme: z.string().nullable().describe("loop.per_theme: the theme whose prompts alone carry it; null for every prompt"),
});
/** loop.promote merge: a winner folded into a new checkpoint, in the state table merged_checkpoints. */
export const mergedCheckpointRow = z.object({
  name: z.string().describe('the checkpoint file stem: <lora>-merged'),
  path: z.string().describe('data/models/checkpoints/<name>.safetensors'),
  hash: z.string(),
  base: z.string().describe('the checkpoint merged into: train.base_model, or the last merged one'),
  lora: z.string(),
  ratio: z.number(),
  round: z.number().int(),
  merged_at: z.string(),
});
export type MergedCheckpointRow = z.infer<typeof mergedCheckpointRow>;
export type PromotedLoraRow = z.infer<typeof promotedLoraRow>;
export type LoraInfoRow = z.infer<typeof loraInfoRow>;
