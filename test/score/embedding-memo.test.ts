// Embeddings outlive a change to what is compared: new phrasings or a new axis value run
// the text tower and the softmax, not the vision model.
import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTestContext, runMapStage } from '../../src/testing.js';
import type { ImageRow, PromptRow } from '../../schemas/tables.js';
import scoreStage from '../../stages/score/index.js';
import { scoreStageParams } from '../../stages/score/params.js';
import { fileEmbeddingMemo, memoised } from '../../stages/score/embedding-memo.js';
import { axes, axesRows, generate, promptRow } from './helpers.js';

let dir: string;
let prompts: PromptRow[];
let images: ImageRow[];
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sdloop-memo-'));
  prompts = Array.from({ length: 6 }, (_, i) => promptRow(i));
  images = await generate(dir, prompts, 0.3);
});

/** One score run; returns its rows and how many views the vision model embedded. */
async function score(over: Record<string, unknown>, inputs = { axes: axesRows(), images, prompts }) {
  const params = scoreStageParams.parse({ score: { batch_size: 4, workers: 0, ...over } });
  const ctx = makeTestContext({ dir, params, inputs, stage: 'score' });
  const { tables } = await runMapStage(scoreStage, ctx);
  const line = ctx.logs.find((l) => /views through the vision model/.test(l)) ?? '';
  return { tables, visionRuns: Number(/(\d+) views/.exec(line)?.[1] ?? NaN), decoded: Number(/\((\d+) decoded/.exec(line)?.[1] ?? NaN) };
}

describe('embedding memo', () => {
  it('computes only the missing vectors, once per key, and keeps them on disk', async () => {
    const memo = fileEmbeddingMemo(mkdtempSync(join(tmpdir(), 'sdloop-memo-unit-')));
    const asked: number[][] = [];
    const compute = async (missing: number[]) => (asked.push(missing), missing.map((i) => Float32Array.from([i, 0.5])));
    const first = await memoised(memo, ['a', 'b', 'a'], compute);
    expect(asked).toEqual([[0, 1]]);
    expect(first.map((v) => Array.from(v))).toEqual([[0, 0.5], [1, 0.5], [0, 0.5]]);
    const second = await memoised(memo, ['b', 'c'], compute);
    expect(asked).toEqual([[0, 1], [1]]);
    expect(second.map((v) => Array.from(v))).toEqual([[1, 0.5], [1, 0.5]]);
  });

  it('re-scores new phrasings without running the vision model, with the readings a cold run gives', async () => {
    const cold = await score({});
    expect([cold.decoded, cold.visionRuns]).toEqual([6, 6]);
    const phrasings = { default: ['{v}', 'an illustration of {v}'] };
    const warm = await score({ phrasings });
    // Neither decoded nor embedded: the pixel checks are kept beside the embeddings.
    expect([warm.decoded, warm.visionRuns]).toEqual([0, 0]);
    expect(warm.tables.scores).toHaveLength(6 * 3);
    // The same phrasings scored from scratch in another project read the same.
    const fresh = mkdtempSync(join(tmpdir(), 'sdloop-memo-fresh-'));
    const params = scoreStageParams.parse({ score: { batch_size: 4, workers: 0, phrasings } });
    const ctx = makeTestContext({ dir: fresh, params, inputs: { axes: axesRows(), images: images.map((im) => ({ ...im, origin: 'imported' })), prompts }, stage: 'score' });
    const scratch = await runMapStage(scoreStage, ctx);
    expect(ctx.logs.join('\n')).toMatch(/\(6 decoded, 6 views through the vision model/);
    expect(warm.tables.scores).toEqual(scratch.tables.scores);
  });

  it('re-scores an axis that gained a value without the vision model', async () => {
    await score({});
    const world = { ...axes, HairColor: [...axes.HairColor!, ['green', 'green hair']] as [string, string][] };
    const wider = axesRows(world).find((r) => r.axis === 'HairColor')!;
    const widened = prompts.map((p) => ({ ...p, variations: { ...p.variations, HairColor: { ...p.variations.HairColor!, alternatives: wider.alternatives } } }));
    const run = await score({}, { axes: axesRows(world), images, prompts: widened });
    expect(run.visionRuns).toBe(0);
    expect(run.tables.scores.filter((s) => s.axis === 'HairColor')).toHaveLength(6);
  });

  it('embeds again when the zone crops change what the vision model sees', async () => {
    await score({});
    const zoned = await score({ zones: { hair: { axis: 'HairColor', box: [0, 0, 1, 0.5] } }, cascade_margin: 1 });
    // At most one new view per image (the crop of an uncertain reading; a saturated softmax
    // is certain even at margin 1), none for the whole images already embedded.
    expect(zoned.visionRuns).toBeGreaterThan(0);
    expect(zoned.visionRuns).toBeLessThanOrEqual(6);
    expect((await score({ zones: { hair: { axis: 'HairColor', box: [0, 0, 1, 0.5] } }, cascade_margin: 1 })).visionRuns).toBe(0);
  });
});
