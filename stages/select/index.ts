// select: per (axis, value), the best-rendered images by combined score: the examples a
// LoRA should learn from. Blank, blurred and near-duplicate images never qualify, nor do
// images a human labelled with another value. With select.aesthetic_weight the ranking
// also weighs taste (as DreamSync does): adherence still decides who is eligible
// (min_score), then the aesthetic score the score stage wrote reorders the eligible.
// With select.theme (a per-theme round of `pipeline loop`) only that theme's images
// compete: the optional input `prompts` (catalog.prompts) says which prompt had which.
import { z } from 'zod';
import { InputError } from '../../src/errors.js';
import { defineStage, type InputArtifact } from '../../src/stage.js';
import { selectionRow, type ImageRow, type PredictionRow, type PromptRow, type QualityRow, type SelectionRow } from '../../schemas/tables.js';

const selectParams = z.object({
  top_k: z.number().int().positive().default(8).describe('images per (axis, value), unless top_fraction is set'),
  top_fraction: z.number().gt(0).max(1).nullable().default(null).describe('the best fraction of eligible images per (axis, value)'),
  min_score: z.number().min(0).max(1).default(0.5).describe('lowest p_combined an image may have'),
  exclude: z
    .object({ blank: z.boolean().default(true), blurred: z.boolean().default(true), duplicates: z.boolean().default(true) })
    .prefault({}),
  aesthetic_weight: z.number().min(0).max(1).default(0)
    .describe("0..1: rank by (1 - w) x p_combined + w x the image's aesthetic percentile among its value's eligible images; needs score.aesthetic_head"),
  target: z
    .object({ axis: z.string().min(1), value: z.string().min(1) })
    .nullable()
    .default(null)
    .describe('select for one (axis, value) only: a micro-LoRA on one failing value'),
  theme: z.string().min(1).nullable().default(null)
    .describe("select among one theme's images only (a per-theme LoRA); needs the input prompts: catalog.prompts"),
});

export const paramsSchema = z.object({ select: selectParams.prefault({}) });
type Params = z.infer<typeof paramsSchema>;
type SelectParams = Params['select'];

const compareIds = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * One image per near-duplicate group may stay: the one with the best combined score on
 * any axis (ties: smallest id), so the kept image is the same whatever axis is asked.
 */
function duplicateLosers(predictions: PredictionRow[], quality: Map<string, QualityRow>): Map<string, string> {
  const best = new Map<string, { id: string; score: number }>();
  for (const p of predictions) {
    const group = quality.get(p.image_id)?.duplicate_group;
    if (!group) continue;
    const current = best.get(group);
    if (!current || p.p_combined > current.score || (p.p_combined === current.score && compareIds(p.image_id, current.id) < 0)) {
      best.set(group, { id: p.image_id, score: p.p_combined });
    }
  }
  const losers = new Map<string, string>();
  for (const p of predictions) {
    const group = quality.get(p.image_id)?.duplicate_group;
    const keeper = group ? best.get(group)!.id : p.image_id;
    if (keeper !== p.image_id) losers.set(p.image_id, keeper);
  }
  return losers;
}

/** Why the image itself is unusable (whatever its value), or null. */
function qualityProblem(image: ImageRow | undefined, q: QualityRow | undefined, s: SelectParams): string | null {
  if (!image || image.status !== 'ok') return 'not generated';
  if (s.exclude.blank && q && (q.blank || q.black || q.uniform)) return 'blank';
  if (s.exclude.blurred && q?.blurred) return 'blurred';
  return null;
}

/** Why the image may not be selected for this row's value, or null when it may. */
function exclusionOf(p: PredictionRow, problem: string | null, losers: Map<string, string>, s: SelectParams): string | null {
  if (problem) return problem;
  if (s.exclude.duplicates && losers.has(p.image_id)) return 'duplicate';
  if (p.label_source === 'human' && p.label !== p.value) return 'human label differs';
  if (p.p_combined < s.min_score) return 'below min_score';
  return null;
}

function limitOf(eligible: number, s: SelectParams): number {
  return s.top_fraction === null ? s.top_k : Math.max(1, Math.ceil(s.top_fraction * eligible));
}

/**
 * Each image's aesthetic rank among its group, 0 (least) .. 1 (most), ties sharing the mean
 * rank: a percentile needs no assumption about the head's scale (LAION's 1..10 or any
 * other). An image without an aesthetic score counts as the middle: no evidence either way.
 */
export function aestheticPercentiles(group: PredictionRow[], quality: Map<string, QualityRow>): Map<string, number> {
  const scored = group.flatMap((p) => {
    const a = quality.get(p.image_id)?.aesthetic;
    return a === null || a === undefined ? [] : [{ id: p.image_id, a }];
  }).sort((x, y) => x.a - y.a);
  const out = new Map<string, number>(group.map((p) => [p.image_id, 0.5]));
  for (let i = 0; i < scored.length;) {
    let j = i;
    while (j + 1 < scored.length && scored[j + 1]!.a === scored[i]!.a) j++;
    const rank = scored.length > 1 ? (i + j) / 2 / (scored.length - 1) : 0.5;
    for (let k = i; k <= j; k++) out.set(scored[k]!.id, rank);
    i = j + 1;
  }
  return out;
}

/** What the group is ranked by: p_combined alone unless aesthetic_weight is set. */
function rankingScores(group: PredictionRow[], quality: Map<string, QualityRow>, s: SelectParams): Map<string, number> {
  const w = s.aesthetic_weight;
  if (w === 0) return new Map(group.map((p) => [p.image_id, p.p_combined]));
  const taste = aestheticPercentiles(group, quality);
  return new Map(group.map((p) => [p.image_id, (1 - w) * p.p_combined + w * taste.get(p.image_id)!]));
}

function tasteText(p: PredictionRow, score: number, quality: Map<string, QualityRow>, s: SelectParams): string {
  if (s.aesthetic_weight === 0) return '';
  const a = quality.get(p.image_id)?.aesthetic;
  return `; ranked by ${score.toFixed(3)} = ${1 - s.aesthetic_weight} x p_combined + ${s.aesthetic_weight} x aesthetic percentile (aesthetic ${a === null || a === undefined ? 'none' : a.toFixed(3)})`;
}

function reasonFor(p: PredictionRow, rank: number, eligible: number, s: SelectParams, duplicates: number): string {
  const quota = s.top_fraction === null ? `top ${s.top_k}` : `top ${s.top_fraction * 100}% = ${limitOf(eligible, s)}`;
  const scores = `p_combined ${p.p_combined.toFixed(3)} (probe ${p.p_probe.toFixed(3)}, zero-shot ${p.p_zero_shot.toFixed(3)}) >= ${s.min_score}`;
  const target = `${s.theme === null ? '' : `theme ${s.theme}: `}${s.target ? 'micro-LoRA target ' : ''}`;
  const human = p.label_source === 'human' ? '; confirmed by a human' : '';
  const dup = duplicates ? `; best of ${duplicates + 1} near-duplicates` : '';
  return `${target}${p.axis}=${p.value}: rank ${rank} of ${eligible} eligible, ${quota}; ${scores}${human}${dup}`;
}

/** Whether an image is one select.theme admits: every image without a theme set. */
function themeFilter(theme: string | null, images: ImageRow[], prompts: PromptRow[]): (imageId: string) => boolean {
  if (theme === null) return () => true;
  const themeOfPrompt = new Map(prompts.map((p) => [p.prompt_id, p.theme]));
  const admitted = new Set(images.filter((i) => themeOfPrompt.get(i.prompt_id) === theme).map((i) => i.image_id));
  return (id) => admitted.has(id);
}

export function selectRows(
  predictions: PredictionRow[],
  images: ImageRow[],
  quality: QualityRow[],
  s: SelectParams,
  prompts: PromptRow[] = [],
): { selection: SelectionRow[]; excluded: Record<string, number> } {
  const imageById = new Map(images.map((i) => [i.image_id, i]));
  const qualityById = new Map(quality.map((q) => [q.image_id, q]));
  const inTheme = themeFilter(s.theme, images, prompts);
  const wanted = predictions.filter((p) => inTheme(p.image_id) && (!s.target || (p.axis === s.target.axis && p.value === s.target.value)));
  const problemOf = (id: string) => qualityProblem(imageById.get(id), qualityById.get(id), s);
  // a blurred or blank image must not stand for its near-duplicates
  const losers = duplicateLosers(wanted.filter((p) => !problemOf(p.image_id)), qualityById);
  const duplicatesOf = new Map<string, number>();
  for (const keeper of losers.values()) duplicatesOf.set(keeper, (duplicatesOf.get(keeper) ?? 0) + 1);

  const excluded: Record<string, number> = {};
  const groups = new Map<string, PredictionRow[]>();
  for (const p of wanted) {
    const why = exclusionOf(p, problemOf(p.image_id), losers, s);
    if (why) {
      excluded[why] = (excluded[why] ?? 0) + 1;
      continue;
    }
    const key = `${p.axis}\u0000${p.value}`;
    const group = groups.get(key);
    if (group) group.push(p);
    else groups.set(key, [p]);
  }
  const selection: SelectionRow[] = [];
  for (const key of [...groups.keys()].sort(compareIds)) {
    const group = groups.get(key)!;
    const score = rankingScores(group, qualityById, s);
    const ranked = group.sort((a, b) => score.get(b.image_id)! - score.get(a.image_id)! || compareIds(a.image_id, b.image_id));
    ranked.slice(0, limitOf(ranked.length, s)).forEach((p, i) => {
      selection.push(
        selectionRow.parse({
          image_id: p.image_id,
          axis: p.axis,
          value: p.value,
          score: score.get(p.image_id)!,
          rank: i + 1,
          reason: reasonFor(p, i + 1, ranked.length, s, duplicatesOf.get(p.image_id) ?? 0) + tasteText(p, score.get(p.image_id)!, qualityById, s),
        }),
      );
    });
  }
  return { selection, excluded };
}

/** Why a target selected nothing: an unknown value (say which exist) or no good enough image. */
function targetHint(target: { axis: string; value: string }, predictions: PredictionRow[]): string {
  const known = [...new Set(predictions.filter((p) => p.axis === target.axis).map((p) => p.value))].sort(compareIds);
  if (!known.length) return `select.target: no predictions for axis '${target.axis}'`;
  if (!known.includes(target.value)) return `select.target: axis ${target.axis} has no value '${target.value}' (known: ${known.join(', ')})`;
  return `no eligible image for target ${target.axis}=${target.value}: lower select.min_score or generate more`;
}

/** The prompts select.theme reads, with a clear word when pipeline.yaml does not wire them. */
async function themePrompts(input: InputArtifact | undefined): Promise<PromptRow[]> {
  if (input?.kind !== 'table') {
    throw new InputError('expected the input prompts: catalog.prompts on stage select for select.theme (which theme each image is)', { file: 'pipeline.yaml', field: 'stages.select.inputs' });
  }
  return input.rows<PromptRow>();
}

export default defineStage<Params>({
  description: 'top images per (axis, value) by combined score, without blank, blurred or duplicate images',
  version: '1',
  params: paramsSchema,
  outputs: { selection: { kind: 'table', schema: selectionRow, key: ['image_id', 'axis'] } },
  async run(ctx) {
    const rows = async <T>(name: string) => {
      const artifact = ctx.inputs[name];
      if (artifact?.kind !== 'table') throw new Error(`select needs the table input '${name}'`);
      return artifact.rows<T>();
    };
    const [predictions, images, quality] = await Promise.all([
      rows<PredictionRow>('predictions'),
      rows<ImageRow>('images'),
      rows<QualityRow>('quality'),
    ]);
    const s = ctx.params.select;
    const prompts = s.theme === null ? [] : await themePrompts(ctx.inputs.prompts);
    if (s.aesthetic_weight > 0 && !quality.some((q) => q.aesthetic !== null)) {
      throw new InputError('expected aesthetic scores in the quality table for select.aesthetic_weight: set score.aesthetic_head (or the weight to 0)', { file: 'pipeline.yaml', field: 'params.select.aesthetic_weight' });
    }
    const { selection, excluded } = selectRows(predictions, images, quality, s, prompts);
    const skipped = Object.entries(excluded).map(([why, n]) => `${n} ${why}`);
    ctx.log(`selected ${selection.length} images${skipped.length ? `; not eligible (image x axis rows): ${skipped.join(', ')}` : ''}`);
    if (s.target && selection.length === 0) ctx.warn(targetHint(s.target, predictions));
    if (s.theme !== null && selection.length === 0) ctx.warn(`select.theme: no eligible image of theme '${s.theme}' (themes with prompts: ${[...new Set(prompts.map((p) => p.theme ?? '(none)'))].sort().join(', ')})`);
    return { selection };
  },
});
