// The VQA tier through the score stage, against the stand-in vision server that answers
// from what the synthetic renderer really painted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTestContext, runMapStage } from '../../src/testing.js';
import type { ImageRow, PromptRow } from '../../schemas/tables.js';
import scoreStage from '../../stages/score/index.js';
import { scoreStageParams } from '../../stages/score/params.js';
import { startVisionStandIn, type VisionStandIn } from '../standins/vision-server.js';
import { alternativesIndex, axesRows, generate, promptRow, truthTable } from './helpers.js';

let dir: string;
let prompts: PromptRow[];
let images: ImageRow[];
let server: VisionStandIn;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sdloop-vqa-'));
  prompts = Array.from({ length: 6 }, (_, i) => promptRow(i));
  images = await generate(dir, prompts, 0.3);
  server = await startVisionStandIn({ truth: truthTable(images, prompts), logprobs: true });
});
afterAll(() => server.close());

type Scored = { image_id: string; axis: string; value: string; top_value: string; method: string; model: string; matched: boolean };

async function score(vqa: Record<string, unknown> | null, project = dir) {
  const params = scoreStageParams.parse({ score: { batch_size: 4, workers: 0, vqa } });
  const ctx = makeTestContext({ dir: project, params, inputs: { axes: axesRows(), images: images.map((im) => ({ ...im, origin: 'imported' })), prompts }, stage: 'score' });
  const { tables } = await runMapStage(scoreStage, ctx);
  return tables.scores as Scored[];
}

const truthOf = (s: Scored) => images.find((im) => im.image_id === s.image_id)!.rendered![s.axis];

describe('VQA tier', () => {
  it('asks only where CLIP is unsure, one question per value, and records method vqa', async () => {
    const none = await score({ endpoint: server.url, model: 'standin-vl', only_below_margin: 0 });
    expect(none.every((s) => s.method !== 'vqa')).toBe(true);
    const before = server.requests;
    const all = await score({ endpoint: server.url, model: 'standin-vl', only_below_margin: 1 });
    const asked = all.filter((s) => s.method === 'vqa');
    expect(asked.length).toBeGreaterThan(0);
    expect(asked.every((s) => s.model === 'standin-vl')).toBe(true);
    const questions = asked.reduce((n, s) => n + alternativesIndex().get(prompts[0].variations[s.axis].alternatives)!.keys.length, 0);
    expect(server.requests - before).toBe(questions);
    // The stand-in knows the truth: every VQA reading picks the painted value.
    for (const s of asked) expect(s.top_value).toBe(truthOf(s));
  });

  it('asks nothing twice: answers are memoised per image, model and question', async () => {
    await score({ endpoint: server.url, model: 'standin-vl', only_below_margin: 1 });
    const before = server.requests;
    const again = await score({ endpoint: server.url, model: 'standin-vl', only_below_margin: 1, concurrency: 1 });
    expect(server.requests).toBe(before);
    expect(again.some((s) => s.method === 'vqa')).toBe(true);
    await score({ endpoint: server.url, model: 'other-vl', only_below_margin: 1 });
    expect(server.requests).toBeGreaterThan(before);
  });

  it("keeps adherence at least CLIP's on every axis", async () => {
    const clip = await score(null);
    const vqa = await score({ endpoint: server.url, model: 'standin-vl', only_below_margin: 1 });
    for (const axis of Object.keys(prompts[0].variations)) {
      const right = (rows: Scored[]) => rows.filter((s) => s.axis === axis && s.matched === (truthOf(s) === s.value)).length;
      expect(right(vqa), axis).toBeGreaterThanOrEqual(right(clip));
    }
  });

  it('fails the stage with the endpoint named when nothing answers there', async () => {
    const fresh = mkdtempSync(join(tmpdir(), 'sdloop-vqa-down-'));
    // A port that was just listening and is closed now: nothing answers there.
    const gone = await startVisionStandIn({ truth: new Map() });
    await gone.close();
    const down = { endpoint: gone.url, model: 'standin-vl', only_below_margin: 1, retries: 0, timeout_s: 2 };
    await expect(score(down, fresh)).rejects.toThrow(/^stage score failed: the vision endpoint http:\/\/127\.0\.0\.1:\d+\/v1 did not answer: ECONNREFUSED/);
  });
});
