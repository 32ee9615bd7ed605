import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import classify, { paramsSchema } from '../../stages/classify/index.js';
import { makeTestContext, runWholeStage } from '../../src/testing.js';
import { classifierMetricRow, predictionRow, type ClassifierMetricRow, type PredictionRow, type LabelRow } from '../../schemas/tables.js';
import { stateWithoutLegacyLabels, makeWorld, type World } from './world.js';
import { labelsJournal } from '../../stages/classify/human-labels.js';

async function runClassify(world: World, labels: LabelRow[] | null = null, params: Record<string, unknown> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'sdloop-classify-'));
  const ctx = makeTestContext({
    dir,
    stage: 'classify',
    params: paramsSchema.parse({ classify: params }),
    inputs: { scores: world.scores, embeddings: world.embeddings, images: world.images, prompts: world.prompts, axes: world.axes },
  });
  ctx.sql = stateWithoutLegacyLabels;
  if (labels) await labelsJournal(ctx.dataDir).append(labels);
  const out = await runWholeStage(classify, ctx);
  return {
    ctx,
    predictions: out.predictions as PredictionRow[],
    metrics: out.classifier_metrics as ClassifierMetricRow[],
    classifierPath: join((out.classifier as { path: string }).path, 'classifier.json'),
  };
}

const label = (image_id: string, axis: string | null, value: string | null, reject = false): LabelRow => ({
  image_id, axis, value, reject, created_at: '2026-01-01T00:00:00Z',
});

describe('classify stage', () => {
  it('fills params from defaults', () => {
    expect(paramsSchema.parse({}).classify).toMatchObject({ confirm_threshold: 0.6, folds: 3, seed: 1, combine_weight: 0.5 });
  });

  it('predicts every image on every axis and beats zero-shot against the ground truth', async () => {
    const world = makeWorld(300, { zeroShotNoise: 0.45 });
    const { predictions, metrics } = await runClassify(world);
    expect(predictions).toHaveLength(world.scores.length);
    for (const row of predictions) {
      predictionRow.parse(row);
      expect(row.p_combined).toBeCloseTo(0.5 * row.p_probe + 0.5 * row.p_zero_shot, 12);
    }
    expect(metrics.map((m) => m.axis)).toEqual(['Colour', 'Hair']);
    for (const m of metrics) {
      classifierMetricRow.parse(m);
      expect(m.n_train).toBeGreaterThan(m.n_test);
      expect(m.n_test).toBeGreaterThan(0);
      expect(m.probe_accuracy!).toBeGreaterThan(0.9);
      expect(m.n_truth).toBeGreaterThan(0);
      expect(m.truth_probe_accuracy!).toBeGreaterThan(m.truth_zero_shot_accuracy!);
    }
    expect(metrics.find((m) => m.axis === 'Hair')!.classes).toBe(3);
  });

  it('writes a classifier artifact with classes, weights, the embedding model and metrics', async () => {
    const world = makeWorld(120);
    const { classifierPath, metrics } = await runClassify(world);
    const artifact = JSON.parse(readFileSync(classifierPath, 'utf8'));
    expect(artifact.embedding_model).toBe('demo-clip');
    expect(artifact.axes.Hair.classes).toEqual(['Bob', 'Long', 'Bald']);
    expect(artifact.axes.Hair.weights).toHaveLength(3);
    expect(artifact.axes.Hair.weights[0]).toHaveLength(world.embeddings[0].embedding.length);
    expect(artifact.axes.Hair.metrics).toEqual(metrics.find((m) => m.axis === 'Hair'));
    expect(artifact.axes.Hair.cv.map((s: { lambda: number }) => s.lambda).sort()).toEqual([1e-4, 1e-3, 1e-2, 1e-1, 1].sort());
  });

  it('is deterministic: the same inputs, in any row order, give identical rows and artifact bytes', async () => {
    const world = makeWorld(90);
    const a = await runClassify(world);
    const b = await runClassify(world);
    expect(b.predictions).toEqual(a.predictions);
    expect(readFileSync(b.classifierPath, 'utf8')).toBe(readFileSync(a.classifierPath, 'utf8'));
    const shuffled = await runClassify({ ...world, scores: [...world.scores].reverse(), embeddings: [...world.embeddings].reverse() });
    expect(shuffled.predictions).toEqual(a.predictions);
  });

  it('lets human labels win over zero-shot ones and drops rejected images', async () => {
    const world = makeWorld(90);
    const target = world.scores.find((s) => s.axis === 'Hair' && s.p_target >= 0.6)!;
    const other = ['Bob', 'Long', 'Bald'].find((k) => k !== target.value)!;
    const rejected = world.images[5].image_id;
    const { predictions } = await runClassify(world, [
      label(target.image_id, 'Hair', 'wrong first'),
      { ...label(target.image_id, 'Hair', other), created_at: '2026-01-02T00:00:00Z' },
      label(rejected, null, null, true),
    ]);
    const row = predictions.find((p) => p.image_id === target.image_id && p.axis === 'Hair')!;
    expect(row).toMatchObject({ label: other, label_source: 'human' });
    expect(predictions.some((p) => p.image_id === rejected)).toBe(false);
    const typo = await runClassify(world, [label(target.image_id, 'Hair', 'Bobb')]);
    expect(typo.ctx.logs).toContain(`warning: Hair: human labels with no such value, ignored (${target.image_id}: Bobb); known values: Bob, Long, Bald`);
    const textLabelled = await runClassify(world, [label(target.image_id, 'Hair', 'bald head')]);
    expect(textLabelled.predictions.find((p) => p.image_id === target.image_id && p.axis === 'Hair')!.label).toBe('Bald');
  });

  it('changes its fingerprint resources when the labels change', async () => {
    const world = makeWorld(30);
    const { ctx } = await runClassify(world);
    const journal = labelsJournal(ctx.dataDir);
    const none = await classify.resources!(ctx);
    await journal.append([label('img0001', 'Hair', 'Bob')]);
    const one = await classify.resources!(ctx);
    await journal.append([{ ...label('img0001', 'Hair', 'Long'), created_at: '2026-01-02T00:00:00Z' }]);
    const other = await classify.resources!(ctx);
    expect(new Set([none.labels, one.labels, other.labels]).size).toBe(3);
  });

  it('copes with a handful of images: no NaN, metrics for what can be measured', async () => {
    const world = makeWorld(5, { failRate: 0, zeroShotNoise: 0 });
    const { predictions, metrics } = await runClassify(world, null, { confirm_threshold: 0.3 });
    expect(predictions).toHaveLength(10);
    for (const row of predictions) expect(Number.isFinite(row.p_combined)).toBe(true);
    for (const m of metrics) expect(m.classes).toBeGreaterThanOrEqual(2);
  });

  it('falls back to zero-shot on an axis with fewer than two labelled values', async () => {
    const world = makeWorld(60);
    const { predictions, metrics } = await runClassify(world, null, { confirm_threshold: 1 });
    expect(metrics.every((m) => m.probe_accuracy === null && m.classes === 0)).toBe(true);
    expect(predictions.every((p) => p.p_probe === p.p_zero_shot && p.probe_value === null)).toBe(true);
  });
});
