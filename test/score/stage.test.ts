import { beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { makeTestContext, runMapStage } from '../../src/testing.js';
import { hashValue } from '../../src/hash.js';
import { embeddingRow, qualityRow, scoreRow, type ImageRow, type PromptRow } from '../../schemas/tables.js';
import { alternativesIndex, axesRows, generate, promptRow } from './helpers.js';
import scoreStage from '../../stages/score/index.js';
import { scoreStageParams } from '../../stages/score/params.js';

let dir: string;
let prompts: PromptRow[];
let images: ImageRow[];
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sdloop-score-'));
  prompts = Array.from({ length: 12 }, (_, i) => promptRow(i));
  images = await generate(dir, prompts, 0.3);
});

const params = (over: Record<string, unknown> = {}) => scoreStageParams.parse({ score: { batch_size: 5, workers: 0, ...over } });

describe('score stage', () => {
  it('fails the stage on an image whose file is gone, naming its path, rather than recording a failed item', async () => {
    const own = mkdtempSync(join(tmpdir(), 'sdloop-score-missing-'));
    const two = await generate(own, prompts.slice(0, 2), 0);
    rmSync(two[1]!.path);
    const ctx = makeTestContext({ dir: own, params: params(), inputs: { axes: axesRows(), images: two, prompts: prompts.slice(0, 2) }, stage: 'score' });
    await expect(runMapStage(scoreStage, ctx)).rejects.toThrow(`${two[1]!.path} does not exist`);
    rmSync(own, { recursive: true, force: true });
  });

  it('reads back what the synthetic backend painted, through the demo CLIP', async () => {
    const ctx = makeTestContext({ dir, params: params(), inputs: { axes: axesRows(), images, prompts }, stage: 'score' });
    const { tables, results } = await runMapStage(scoreStage, ctx);
    expect(results.every((r) => !r.error)).toBe(true);
    expect(tables.scores).toHaveLength(12 * 3);
    expect(tables.quality).toHaveLength(12);
    expect(tables.embeddings).toHaveLength(12);
    for (const row of tables.scores) scoreRow.parse(row);
    for (const row of tables.quality) qualityRow.parse(row);
    for (const row of tables.embeddings) embeddingRow.parse(row);
    let agree = 0;
    let failures = 0;
    for (const s of tables.scores as { image_id: string; axis: string; value: string; top_value: string; matched: boolean; p_target: number; margin: number; rank: number; model: string }[]) {
      const truth = images.find((im) => im.image_id === s.image_id)!.rendered![s.axis];
      if (truth === s.top_value) agree++;
      if (truth !== s.value) failures++;
      expect(s.matched).toBe(truth === s.value);
      expect(s.model).toBe('demo');
      expect(s.rank === 1).toBe(s.margin > 0);
    }
    expect(agree).toBe(tables.scores.length);
    expect(failures).toBeGreaterThan(0);
    const embedding = (tables.embeddings[0] as { embedding: number[] }).embedding;
    expect(embedding).toHaveLength(49);
  });

  it('gives verdicts from the mean p_target and flags images with too few matched axes', async () => {
    const ctx = makeTestContext({ dir, params: params(), inputs: { axes: axesRows(), images, prompts }, stage: 'score' });
    const { tables } = await runMapStage(scoreStage, ctx);
    for (const q of tables.quality as { image_id: string; verdict: string; match_score: number; flagged: boolean }[]) {
      const rendered = images.find((im) => im.image_id === q.image_id)!.rendered!;
      const prompt = prompts.find((p) => images.find((im) => im.image_id === q.image_id)!.prompt_id === p.prompt_id)!;
      const wrong = Object.entries(prompt.variations).filter(([axis, v]) => rendered[axis] !== v.key).length;
      expect(q.verdict).toBe(wrong === 0 ? 'success' : wrong === 1 ? 'partial' : 'failed');
      expect(q.flagged).toBe(wrong >= 1);
    }
  });

  it('scores black frames as blank without asking CLIP', async () => {
    const ctx = makeTestContext({ dir, params: {} });
    const black = await ctx.store.put(await sharp({ create: { width: 512, height: 768, channels: 3, background: '#000' } }).png().toBuffer(), 'png');
    const image = { ...images[0], image_id: black.hash, path: black.path, rendered: null };
    const stageCtx = makeTestContext({ dir, params: params(), inputs: { axes: axesRows(), images: [image], prompts }, stage: 'score' });
    const { tables } = await runMapStage(scoreStage, stageCtx);
    expect(tables.quality[0]).toMatchObject({ blank: true, black: true, verdict: 'blank', flagged: true, match_score: 0 });
    expect(tables.scores.every((s) => s.method === 'blank' && s.matched === false)).toBe(true);
  });

  it('scores added images on their own: old items keep their memo key and rows', async () => {
    const first = makeTestContext({ dir, params: params(), inputs: { axes: axesRows(), images: images.slice(0, 6), prompts }, stage: 'score' });
    const before = await runMapStage(scoreStage, first);
    const added = await generate(dir, [promptRow(40), promptRow(41)], 0);
    const all = [...images.slice(0, 6), ...added];
    const second = makeTestContext({ dir, params: params(), inputs: { axes: axesRows(), images: all, prompts: [...prompts, promptRow(40), promptRow(41)] }, stage: 'score' });
    const items = await scoreStage.items!(second);
    const oldKeys = new Set(before.items.map((it) => hashValue(it)));
    const fresh = items.filter((it) => !oldKeys.has(hashValue(it)));
    expect(fresh.map((it) => it.image_id)).toEqual(added.map((im) => im.image_id));
    // Scoring only the new items gives the rows a full re-run gives them.
    const state = await scoreStage.setup!(second, fresh);
    const newRows = await scoreStage.mapBatch(fresh, second, state);
    await scoreStage.teardown!(state);
    const full = await runMapStage(scoreStage, second);
    // mapBatch returns measurements; the tables add what the thresholds derive from them.
    expect(newRows.flatMap((r) => r.rows.readings)).toEqual(full.tables.scores.slice(18).map(({ matched: _m, ...reading }) => reading));
    expect(full.tables.scores.slice(0, 18)).toEqual(before.tables.scores);
  });

  it('marks an unreadable image as failed and keeps the rest of the batch', async () => {
    // A file that is there but is no PNG (a missing one fails the stage: see above).
    const corrupt = { ...images[0], image_id: 'f'.repeat(32) };
    mkdirSync(join(dir, 'data', 'objects', 'ff'), { recursive: true });
    writeFileSync(join(dir, 'data', 'objects', 'ff', `${corrupt.image_id}.png`), 'not a png');
    const ctx = makeTestContext({ dir, params: params(), inputs: { axes: axesRows(), images: [corrupt, images[1]], prompts }, stage: 'score' });
    const { results } = await runMapStage(scoreStage, ctx);
    expect(results[0].error).toMatch(/image f{32}/);
    expect(results[1].error).toBeUndefined();
    expect(results[1].rows.frames).toHaveLength(1);
  });

  it('derives the same verdicts by SQL (the stage) as by JS (the scorer), whatever the thresholds', async () => {
    const thresholds = { success: 0.95, partial: 0.6, matched: 0.7, flagged: 0.5, blur: 60 };
    const stageParams = params({ thresholds });
    const { tables } = await runMapStage(scoreStage, makeTestContext({ dir, params: stageParams, inputs: { axes: axesRows(), images, prompts }, stage: 'score' }));
    const { createScorer } = await import('../../stages/score/scorer.js');
    const scorer = await createScorer(stageParams.score, { projectDir: dir });
    const items = (await scoreStage.items!(makeTestContext({ dir, params: stageParams, inputs: { axes: axesRows(), images, prompts }, stage: 'score' })))
      .map((it) => ({ ...it, source: join(dir, 'data', 'objects', it.image_id.slice(0, 2), `${it.image_id}.png`), blank: it.status === 'blank' }));
    const direct = await scorer.scoreItems(items);
    await scorer.close();
    expect(tables.quality).toEqual(direct.quality);
    expect(tables.scores).toEqual(direct.scores);
    expect(new Set(tables.quality.map((q) => (q as { verdict: string }).verdict)).size).toBeGreaterThan(1);
  });

  it('scores PNG bytes for the benchmark in chunks of batch_size, rows in item order', async () => {
    const { createScorer } = await import('../../stages/score/scorer.js');
    const { readFileSync } = await import('node:fs');
    const scorer = await createScorer(params({ batch_size: 3 }).score, { projectDir: dir });
    const items = images.slice(0, 7).map((im) => ({
      png: readFileSync(im.path), image_id: im.image_id, prompt: prompts.find((p) => p.prompt_id === im.prompt_id)!,
    }));
    const all = await scorer.scoreImages(items, alternativesIndex());
    expect(all.quality.map((q) => q.image_id)).toEqual(items.map((it) => it.image_id));
    expect(all.scores.map((s) => s.image_id)).toEqual(items.flatMap((it) => Object.keys(it.prompt.variations).map(() => it.image_id)));
    const one = await scorer.scoreImages([items[5]], alternativesIndex());
    expect(all.scores.slice(15, 18)).toEqual(one.scores);
    expect(scorer.stats().images).toBe(8);
    await scorer.close();
  });
});
