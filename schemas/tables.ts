// Row schemas of every table the SD stages write. Column types in Parquet follow the
// zod types (see src/table-schema.ts): strings, numbers (int -> BIGINT), booleans,
// number arrays -> FLOAT[], string arrays -> VARCHAR[], anything else -> JSON. Training,
// benchmark and loop tables live in loop-tables.ts, re-exported here.
import { z } from 'zod';

export * from './loop-tables.js';

/**
 * One chosen variation: the key in its source file and the text it rendered. The axis'
 * other values are not repeated on every prompt row (300 values on 4 axes made 27 KB a
 * row): `alternatives` names their row in table `axes`.
 */
export const chosenVariation = z.object({
  key: z.string(),
  value: z.unknown().describe('the value as written: a string, or a multipart object'),
  /** the text the key renders (plain value, or its `main` part, else the alphabetically first part) */
  text: z.string(),
  alternatives: z.string().describe('alternatives id of the axis in table axes'),
});

/** Every value of one axis as its source file holds them: the alternatives a scorer compares (table `axes`, one row per distinct set). */
export const axisAlternativesRow = z.object({
  alternatives: z.string().describe('hash of axis, keys and texts'),
  axis: z.string(),
  /** every key of the axis' source, in file order */
  keys: z.array(z.string()),
  /** the text each key renders, aligned with keys */
  texts: z.array(z.string()),
});

export const promptRow = z.object({
  prompt_id: z.string().describe('hash of everything that defines the image'),
  source: z.string().describe('entry prompt file, relative to the project'),
  session: z.string(),
  theme: z.string().nullable(),
  style: z.string().nullable(),
  idx: z.number().int(),
  prompt: z.string().describe('normalised, as the manifest stores it'),
  api_prompt: z.string().describe('flattened for the backend'),
  negative_prompt: z.string(),
  seed: z.number().int(),
  variations: z.record(z.string(), chosenVariation),
  params: z.record(z.string(), z.unknown()).describe('merged `parameters`'),
  manifest: z.record(z.string(), z.unknown()).describe('what the session manifest snapshot needs, less its per-axis value lists'),
  manifest_variations: z.string().describe("id of the file's row in table planned_manifests (the snapshot's value lists); '' when none"),
});

/** The manifest snapshot's `variations` of one planned file (sdgen's available, used, count per placeholder): once per file, not per row. */
export const manifestVariationsRow = z.object({
  manifest_variations: z.string().describe('hash of variations'),
  variations: z.record(z.string(), z.unknown()),
});

export const imageStatus = z.enum(['ok', 'failed', 'blank']);

export const imageRow = z.object({
  image_id: z.string().describe('content hash of the PNG; empty when nothing came back'),
  prompt_id: z.string(),
  path: z.string(),
  seed: z.number().int(),
  width: z.number().int(),
  height: z.number().int(),
  backend: z.string(),
  endpoint: z.string(),
  model_name: z.string(),
  model_hash: z.string(),
  loras: z.array(z.string()),
  gen_ms: z.number(),
  status: imageStatus,
  error: z.string().nullable(),
  rendered: z.record(z.string(), z.string()).nullable(),
  session_dir: z.string().describe('the human session folder the image is linked into'),
  filename: z.string().describe('its name there'),
});

export const imageOrigin = z.enum(['generated', 'imported']);

/**
 * One image of either origin, as every stage after `catalog` sees it (table `images`).
 * Imported images are the user's files, referenced in place: `path` is absolute and the
 * file is never modified, moved or deleted.
 */
export const catalogImageRow = imageRow.extend({
  origin: imageOrigin,
  /** sdgen burned the variation text into the pixels (output.annotations): adherence would read the text */
  annotated: z.boolean(),
});

/** A variation text of an imported image that maps to no key, or to several, with why. */
export const unresolvedVariation = z.object({
  axis: z.string(),
  text: z.string(),
  key: z.null(),
  reason: z.string(),
  /** `file:key` of every candidate when the text was ambiguous */
  candidates: z.array(z.string()),
});

/** One prompt row of either origin (table `prompts`); imported rows hold what was recovered. */
export const catalogPromptRow = promptRow.extend({
  origin: imageOrigin,
  /** variations whose key is unknown: left out of `variations`, so never scored nor trained on */
  unresolved: z.array(unresolvedVariation),
});

/**
 * One value of one axis, as a person reads it: sdgen keys an inline list item
 * (`Weather: [rain.yaml, "light drizzle"]`) by the first 8 hex of its MD5, so its text is
 * the only name it has. Tables keep the key; reports, plots, the dataset and the review
 * app show `text` where `inline` is true.
 */
export const variationValueRow = z.object({
  axis: z.string(),
  key: z.string(),
  text: z.string().describe('what the key renders (its `main` part for a multipart value)'),
  inline: z.boolean().describe("the key is sdgen's MD5 of an inline list item: show the text instead"),
});

/** One folder ingest read: what sdgen planned there and what is on disk. */
export const importedSessionRow = z.object({
  session_dir: z.string().describe('the folder: relative to the project when inside it or named relative to it in ingest.paths, else absolute'),
  session: z.string(),
  format: z.enum(['v2', 'v2-inferred', 'october-2025', 'v1', 'png-info']),
  confidence: z.string().nullable().describe("inferred manifests: sdgen's confidence in the reconstruction"),
  status: z.string().nullable().describe('the manifest status (ongoing, completed, aborted); null when it had none'),
  planned: z.number().int(),
  present: z.number().int(),
  failed_indexes: z.array(z.number()).describe('planned indexes with no image: the failures'),
  unreadable: z.array(z.string()).describe('files that could not be read, with why'),
});

/** Per session folder, both origins (table `sessions`). */
export const sessionRow = z.object({
  session_dir: z.string(),
  session: z.string(),
  origin: imageOrigin,
  format: z.string(),
  planned: z.number().int(),
  present: z.number().int(),
  failed: z.number().int(),
  blank: z.number().int(),
  scored: z.number().int().describe('images with at least one variation measured'),
  mean_match: z.number().nullable().describe('mean quality.match_score over the scored images; null when none was'),
  flagged: z.number().int().describe('quality.flagged, plus annotated images'),
  annotated: z.number().int(),
  verdict: z.enum(['complete', 'review']),
});

export const scoreRow = z.object({
  image_id: z.string(),
  prompt_id: z.string(),
  axis: z.string(),
  value: z.string(),
  p_target: z.number(),
  margin: z.number(),
  rank: z.number().int(),
  matched: z.boolean(),
  top_value: z.string(),
  method: z.string(),
  model: z.string(),
});

export const verdict = z.enum(['success', 'partial', 'failed', 'blank']);

export const qualityRow = z.object({
  image_id: z.string(),
  prompt_id: z.string(),
  blank: z.boolean(),
  uniform: z.boolean(),
  black: z.boolean(),
  blur: z.number(),
  blurred: z.boolean(),
  phash: z.string(),
  duplicate_group: z.string().nullable(),
  aesthetic: z.number().nullable(),
  match_score: z.number(),
  verdict,
  flagged: z.boolean(),
});

/** What score measures per axis; `matched` is derived from it with score.thresholds.matched. */
export const readingRow = scoreRow.omit({ matched: true });

/** What score measures per image; blurred, verdict and flagged are derived from it with score.thresholds. */
export const frameRow = qualityRow.omit({ blurred: true, verdict: true, flagged: true });

export const embeddingRow = z.object({
  image_id: z.string(),
  model: z.string(),
  embedding: z.array(z.number()),
});

export const predictionRow = z.object({
  image_id: z.string(),
  axis: z.string(),
  value: z.string().describe('the value the prompt asked for (a variation key)'),
  p_probe: z.number().describe("the probe's probability of `value` (0 if no image had it as a label); p_zero_shot when the axis has no probe"),
  p_zero_shot: z.number(),
  p_combined: z.number(),
  probe_value: z.string().nullable().describe("the probe's most probable value; null when the axis has no probe"),
  label: z.string().nullable().describe('the training label: a human verdict, else the zero-shot-confirmed value'),
  label_source: z.enum(['human', 'zero_shot']).nullable(),
});

export const classifierMetricRow = z.object({
  axis: z.string(),
  classes: z.number().int(),
  n_train: z.number().int(),
  n_test: z.number().int(),
  probe_accuracy: z.number().nullable().describe('held-out; null when fewer than two values had labels'),
  zero_shot_accuracy: z.number().nullable().describe('on the same held-out images'),
  l2_lambda: z.number().nullable().describe('the L2 strength cross-validation chose (`lambda` is an SQL keyword)'),
  truth_probe_accuracy: z.number().nullable().describe('against the synthetic backend\'s rendered values, on images the probe did not train on'),
  truth_zero_shot_accuracy: z.number().nullable(),
  n_truth: z.number().int(),
});

/** Journal `labels` (data/journals/labels.jsonl): written by `pipeline label` and `pipeline serve`, read by classify. */
export const labelRow = z.object({
  image_id: z.string().min(1),
  axis: z.string().nullable(),
  value: z.string().nullable(),
  reject: z.boolean(),
  created_at: z.string(),
});

/** Journal `favourites`: the latest row per image says whether it is one. */
export const favouriteRow = z.object({
  image_id: z.string().min(1),
  favourite: z.boolean(),
  created_at: z.string(),
});

/** Journal `session_notes`: each row is a session's whole review record after a change; the latest wins. */
export const sessionNoteRow = z.object({
  session: z.string().min(1),
  rating: z.number().int().min(0).max(5).nullable(),
  flags: z.array(z.string().min(1).max(40)).max(20),
  note: z.string().max(4000),
  created_at: z.string(),
});

export const selectionRow = z.object({
  image_id: z.string(),
  axis: z.string(),
  value: z.string(),
  score: z.number(),
  rank: z.number().int(),
  reason: z.string(),
});


/** State table `pruned` (pipeline prune --apply): one row per image moved to data/trash. */
export const prunedRow = z.object({
  image_id: z.string(),
  prompt_id: z.string(),
  file: z.string().describe('where the session copy was, relative to the project'),
  trash_file: z.string().describe("where it is now, relative to data/trash/<batch>/; empty for an imported image: the user's file stays where it is and is only left out of the tables"),
  batch: z.string().describe('the data/trash folder holding the file and record.json'),
  predicate: z.string().describe('the --where that chose it'),
  pruned_at: z.string(),
  restored_at: z.string().nullable(),
});

/** One moved file, as record.json keeps it: the state table's row without the batch-wide fields. */
export const pruneItem = prunedRow.pick({ image_id: true, prompt_id: true, file: true, trash_file: true, restored_at: true });

/** data/trash/<batch>/record.json: written before the first move, so restore works without the database. */
export const pruneRecord = z.object({
  batch: z.string(),
  created_at: z.string(),
  where: z.string(),
  items: z.array(pruneItem),
});

export type PromptRow = z.infer<typeof promptRow>;
export type AxisAlternativesRow = z.infer<typeof axisAlternativesRow>;
export type ChosenVariation = z.infer<typeof chosenVariation>;
export type ManifestVariationsRow = z.infer<typeof manifestVariationsRow>;
export type ImageRow = z.infer<typeof imageRow>;
export type CatalogImageRow = z.infer<typeof catalogImageRow>;
export type CatalogPromptRow = z.infer<typeof catalogPromptRow>;
export type VariationValueRow = z.infer<typeof variationValueRow>;
export type UnresolvedVariation = z.infer<typeof unresolvedVariation>;
export type ImportedSessionRow = z.infer<typeof importedSessionRow>;
export type SessionRow = z.infer<typeof sessionRow>;
export type ScoreRow = z.infer<typeof scoreRow>;
export type QualityRow = z.infer<typeof qualityRow>;
export type ReadingRow = z.infer<typeof readingRow>;
export type FrameRow = z.infer<typeof frameRow>;
export type EmbeddingRow = z.infer<typeof embeddingRow>;
export type PredictionRow = z.infer<typeof predictionRow>;
export type SelectionRow = z.infer<typeof selectionRow>;
export type ClassifierMetricRow = z.infer<typeof classifierMetricRow>;
export type LabelRow = z.infer<typeof labelRow>;
export type FavouriteRow = z.infer<typeof favouriteRow>;
export type SessionNoteRow = z.infer<typeof sessionNoteRow>;
