// classify: per variation axis, a softmax probe on L2-normalised CLIP image embeddings,
// labelled with the values the zero-shot scorer confirmed and with human verdicts (which
// win). Reports held-out probe vs zero-shot accuracy, and both against the synthetic
// backend's ground truth when images carry it.
import { join } from 'node:path';
import { z } from 'zod';
import { defineStage, type StageContext } from '../../src/stage.js';
import { writeFileAtomic } from '../../src/atomic.js';
import {
  classifierMetricRow,
  predictionRow,
  type ClassifierMetricRow,
  type EmbeddingRow,
  type ImageRow,
  type PredictionRow,
  type PromptRow,
  type ScoreRow,
} from '../../schemas/tables.js';
import { argmaxRows, l2NormalizeRows, matrixFromRows, predictProba, type Matrix } from './logistic.js';
import { stratifiedSplit } from './cross-validation.js';
import { threadsFor, trainProbes, type ProbeJob, type TrainedProbe } from './probe-pool.js';
import { adoptStateLabels, humanLabelsOf, labelKey, labelsChange, labelsFingerprint, readLabelRows, type HumanLabels } from './human-labels.js';
import { readAlternatives, type AlternativesIndex } from '../resolve/alternatives.js';

const classifyParams = z.object({
  confirm_threshold: z.number().min(0).max(1).default(0.6).describe('p_target from which a zero-shot score labels an image'),
  test_fraction: z.number().min(0).max(0.9).default(0.25),
  folds: z.number().int().min(2).default(3),
  lambdas: z.array(z.number().positive()).min(1).default([1e-4, 1e-3, 1e-2, 1e-1, 1]),
  seed: z.number().int().default(1),
  combine_weight: z.number().min(0).max(1).default(0.5).describe('weight of the probe in p_combined; the rest is zero-shot'),
  cv_max_rows: z.number().int().positive().default(4000).describe('the lambda search runs on a stratified sample this size'),
  max_iterations: z.number().int().positive().default(200),
  threads: z.number().int().min(0).default(0).describe('worker threads training axes in parallel; 0: one per core but one'),
});

export const paramsSchema = z.object({ classify: classifyParams.prefault({}) });
type Params = z.infer<typeof paramsSchema>;
type ClassifyParams = Params['classify'];

/** One image's standing on one axis. */
interface AxisItem {
  score: ScoreRow;
  row: number;
  label: string | null;
  labelSource: 'human' | 'zero_shot' | null;
  truth: string | null;
}

interface AxisResult {
  predictions: PredictionRow[];
  metric: ClassifierMetricRow;
  artifact: Record<string, unknown>;
}

/** The prompts by id and the axes table: what a prompt's variation compared against. */
interface Known {
  prompts: Map<string, PromptRow>;
  alternatives: AlternativesIndex;
}

function alternativesFor(known: Known, score: ScoreRow, axis: string) {
  const id = known.prompts.get(score.prompt_id)?.variations[axis]?.alternatives;
  return id === undefined ? undefined : known.alternatives.get(id);
}

/** Every alternative of the axis in file order, from the prompts' axes (then any stray values). */
function classesOf(axis: string, scores: ScoreRow[], known: Known): string[] {
  const classes = new Set<string>();
  for (const score of scores) for (const key of alternativesFor(known, score, axis)?.keys ?? []) classes.add(key);
  for (const score of scores) classes.add(score.value).add(score.top_value);
  return [...classes];
}

/** A human may write a value's text instead of its key. */
function keyOf(value: string, axis: string, score: ScoreRow, known: Known): string {
  const set = alternativesFor(known, score, axis);
  const index = set?.texts.indexOf(value) ?? -1;
  return index >= 0 && !set?.keys.includes(value) ? set!.keys[index]! : value;
}

function labelFor(score: ScoreRow, axis: string, human: HumanLabels, known: Known, threshold: number) {
  const verdict = human.values.get(labelKey(score.image_id, axis));
  if (verdict !== undefined) return { label: keyOf(verdict, axis, score, known), labelSource: 'human' as const };
  if (score.p_target >= threshold) return { label: score.value, labelSource: 'zero_shot' as const };
  return { label: null, labelSource: null };
}

function accuracyOf(pairs: [string | null, string | null][]): number | null {
  const judged = pairs.filter(([, truth]) => truth !== null);
  return judged.length ? judged.filter(([guess, truth]) => guess === truth).length / judged.length : null;
}

/** One axis' labels, split and (when two or more values have labels) its training job. */
interface AxisPlan {
  axis: string;
  items: AxisItem[];
  probeClasses: string[];
  split: { train: Int32Array; test: Int32Array };
  job: ProbeJob | null;
  /** human labels naming no value of the axis (typos): not used */
  unknownHuman: string[];
}

function planAxis(axis: string, items: AxisItem[], classes: string[], X: Matrix, p: ClassifyParams): AxisPlan {
  const probeClasses = classes.filter((c) => items.some((item) => item.label === c));
  const classIndex = new Map(probeClasses.map((c, i) => [c, i]));
  const y = new Int32Array(X.rows).fill(-1);
  const labelled: number[] = [];
  for (const item of items) {
    const c = item.label === null ? undefined : classIndex.get(item.label);
    if (c === undefined) continue;
    y[item.row] = c;
    labelled.push(item.row);
  }
  const split = stratifiedSplit(y, p.test_fraction, p.seed, Int32Array.from(labelled.sort((a, b) => a - b)));
  const options = { lambdas: p.lambdas, folds: p.folds, seed: p.seed, cvMaxRows: p.cv_max_rows, maxIterations: p.max_iterations };
  const job = probeClasses.length >= 2 ? { y, train: split.train, classes: probeClasses.length, options } : null;
  const known = new Set(classes);
  const unknownHuman = items.filter((i) => i.labelSource === 'human' && !known.has(i.label!)).map((i) => `${i.score.image_id}: ${i.label}`);
  return { axis, items, probeClasses, split, job, unknownHuman };
}

function finishAxis(plan: AxisPlan, trained: TrainedProbe | null, X: Matrix, p: ClassifyParams): AxisResult {
  const { axis, items, probeClasses, split } = plan;
  const classIndex = new Map(probeClasses.map((c, i) => [c, i]));
  const rows = Int32Array.from(items.map((item) => item.row));
  const probs = trained ? predictProba(trained, X, rows) : null;
  const best = probs ? argmaxRows(probs, probeClasses.length) : null;
  const k = probeClasses.length;
  const predictions = items.map((item, r): PredictionRow => {
    const c = classIndex.get(item.score.value);
    const pProbe = probs ? (c === undefined ? 0 : probs[r * k + c]) : item.score.p_target;
    return predictionRow.parse({
      image_id: item.score.image_id,
      axis,
      value: item.score.value,
      p_probe: pProbe,
      p_zero_shot: item.score.p_target,
      p_combined: p.combine_weight * pProbe + (1 - p.combine_weight) * item.score.p_target,
      probe_value: best ? probeClasses[best[r]] : null,
      label: item.label,
      label_source: item.labelSource,
    });
  });

  const byRow = new Map(items.map((item, r) => [item.row, { item, prediction: predictions[r] }]));
  const test = [...split.test].map((row) => byRow.get(row)!);
  const trainRows = new Set(trained ? split.train : []);
  const unseen = [...byRow.entries()].filter(([row]) => !trainRows.has(row)).map(([, v]) => v);
  const metric = classifierMetricRow.parse({
    axis,
    classes: probeClasses.length,
    n_train: trained ? split.train.length : 0,
    n_test: trained ? split.test.length : 0,
    probe_accuracy: trained ? accuracyOf(test.map((t) => [t.prediction.probe_value, t.item.label])) : null,
    zero_shot_accuracy: trained ? accuracyOf(test.map((t) => [t.item.score.top_value, t.item.label])) : null,
    l2_lambda: trained?.lambda ?? null,
    truth_probe_accuracy: trained ? accuracyOf(unseen.map((t) => [t.prediction.probe_value, t.item.truth])) : null,
    truth_zero_shot_accuracy: accuracyOf(unseen.map((t) => [t.item.score.top_value, t.item.truth])),
    n_truth: unseen.filter((t) => t.item.truth !== null).length,
  });
  return { predictions, metric, artifact: probeArtifact(probeClasses, trained, metric) };
}

function probeArtifact(classes: string[], trained: TrainedProbe | null, metrics: ClassifierMetricRow) {
  if (!trained) return { classes, weights: null, bias: null, lambda: null, cv: [], metrics };
  const { weights, bias, dim } = trained;
  return {
    classes,
    weights: classes.map((_, c) => Array.from(weights.subarray(c * dim, (c + 1) * dim))),
    bias: Array.from(bias),
    lambda: trained.lambda,
    cv: trained.cv,
    metrics,
  };
}

function logAxis(ctx: StageContext<Params>, m: ClassifierMetricRow) {
  const pct = (x: number | null) => (x === null ? '-' : `${(100 * x).toFixed(1)}%`);
  ctx.log(
    `${m.axis}: ${m.classes} values, ${m.n_train} train / ${m.n_test} test: probe ${pct(m.probe_accuracy)} vs zero-shot ${pct(m.zero_shot_accuracy)}` +
      (m.n_truth ? `; vs ground truth (${m.n_truth} images): probe ${pct(m.truth_probe_accuracy)}, zero-shot ${pct(m.truth_zero_shot_accuracy)}` : ''),
  );
  if (m.classes < 2) ctx.warn(`${m.axis}: fewer than two values have labels; predictions fall back to zero-shot`);
}

/** Indented JSON, but a weight vector on one line rather than one line per number. */
function compactNumberArrays(json: string): string {
  return json.replace(/\[\s*(-?[\d.e+-]+(?:,\s*-?[\d.e+-]+)*)\s*\]/g, (_, body: string) => `[${body.replace(/\s+/g, '')}]`);
}

function embeddingModelOf(embeddings: EmbeddingRow[]): string {
  const models = [...new Set(embeddings.map((e) => e.model))].sort();
  if (models.length > 1) throw new Error(`embeddings come from several models (${models.join(', ')}); re-run score with one model`);
  return models[0] ?? 'none';
}

export default defineStage<Params>({
  description: 'per-axis logistic probe on CLIP embeddings, labelled by confirmed zero-shot scores and human verdicts',
  version: '1',
  params: paramsSchema,
  outputs: {
    predictions: { kind: 'table', schema: predictionRow, key: ['image_id', 'axis'] },
    classifier_metrics: { kind: 'table', schema: classifierMetricRow },
    classifier: { kind: 'path' },
  },
  async resources(ctx) {
    return { labels: await labelsFingerprint(ctx.dataDir, ctx.sql) };
  },
  async describeResource(name, since, ctx) {
    return name === 'labels' ? labelsChange(await readLabelRows(ctx.dataDir, ctx.sql), since.finishedAt) : undefined;
  },
  async run(ctx) {
    const p = ctx.params.classify;
    const input = async <T>(name: string) => {
      const artifact = ctx.inputs[name];
      if (artifact?.kind !== 'table') throw new Error(`classify needs the table input '${name}'`);
      return artifact.rows<T>();
    };
    const [scores, embeddings, images, prompts] = await Promise.all([
      input<ScoreRow>('scores'),
      input<EmbeddingRow>('embeddings'),
      input<ImageRow>('images'),
      input<PromptRow>('prompts'),
    ]);
    await adoptStateLabels(ctx.sql, ctx.dataDir);
    const human = humanLabelsOf(await readLabelRows(ctx.dataDir));
    const imageById = new Map(images.filter((i) => i.status === 'ok' && i.image_id).map((i) => [i.image_id, i]));
    const usable = embeddings
      .filter((e) => imageById.has(e.image_id) && !human.rejected.has(e.image_id))
      .sort((a, b) => (a.image_id < b.image_id ? -1 : a.image_id > b.image_id ? 1 : 0));
    const rowOf = new Map(usable.map((e, i) => [e.image_id, i]));
    const X = l2NormalizeRows(matrixFromRows(usable.map((e) => e.embedding)));
    const known: Known = { prompts: new Map(prompts.map((row) => [row.prompt_id, row])), alternatives: await readAlternatives(ctx.inputs) };

    const plans = [...new Set(scores.map((s) => s.axis))].sort().map((axis) => {
      // in embedding-row order (= image id order), so the output does not depend on input row order
      const axisScores = scores.filter((s) => s.axis === axis && rowOf.has(s.image_id)).sort((a, b) => rowOf.get(a.image_id)! - rowOf.get(b.image_id)!);
      const items = axisScores.map((score) => ({
        score,
        row: rowOf.get(score.image_id)!,
        truth: imageById.get(score.image_id)?.rendered?.[axis] ?? null,
        ...labelFor(score, axis, human, known, p.confirm_threshold),
      }));
      return planAxis(axis, items, classesOf(axis, axisScores, known), X, p);
    });
    const jobs = plans.flatMap((plan) => (plan.job ? [plan.job] : []));
    const threads = threadsFor(p.threads, jobs.length);
    ctx.log(`training ${jobs.length} probes on ${X.rows} embeddings${threads > 1 ? ` (${threads} threads)` : ''}`);
    const trained = await trainProbes(X, jobs, threads);
    const results: Record<string, AxisResult> = {};
    for (const plan of plans) {
      results[plan.axis] = finishAxis(plan, plan.job ? trained[jobs.indexOf(plan.job)] : null, X, p);
      logAxis(ctx, results[plan.axis].metric);
      if (plan.unknownHuman.length) {
        ctx.warn(`${plan.axis}: human labels with no such value, ignored (${plan.unknownHuman.join('; ')}); known values: ${classesOf(plan.axis, plan.items.map((i) => i.score), known).join(', ')}`);
      }
    }

    const dir = ctx.outDir('classifier');
    const artifact = {
      kind: 'sdloop linear probe',
      embedding_model: embeddingModelOf(embeddings),
      input: 'the L2-normalised image embedding x; p = softmax(weights . x + bias) over classes',
      confirm_threshold: p.confirm_threshold,
      axes: Object.fromEntries(Object.entries(results).map(([axis, r]) => [axis, r.artifact])),
    };
    await writeFileAtomic(join(dir, 'classifier.json'), `${compactNumberArrays(JSON.stringify(artifact, null, 1))}\n`);
    return {
      predictions: Object.values(results).flatMap((r) => r.predictions),
      classifier_metrics: Object.values(results).map((r) => r.metric),
      classifier: { path: dir },
    };
  },
});
