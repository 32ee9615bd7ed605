// The VQA tier through the score stage, against the stand-in vision server that answers
// from what the synthetic renderer really painted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashBytes } from '../../src/hash.js';
import { makeTestContext, runMapStage } from '../../src/testing.js';
import type { ImageRow, PromptRow } from '../../schemas/tables.js';
import scoreStage from '../../stages/score/index.js';
import { scoreStageParams } from '../../stages/score/params.js';
import { startVisionStandIn, type VisionStandIn } from '../standins/vision-server.js';
import { alternativesIndex, axesRows, generate, promptRow } from './helpers.js';

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

/** Ground truth: the value texts each picture shows, by its PNG's content. */
function truthTable(images: ImageRow[], prompts: PromptRow[], index = alternativesIndex()): Map<string, string[]> {
  return new Map(images.map((im) => {
    const prompt = prompts.find((p) => p.prompt_id === im.prompt_id)!;
    const shown = Object.entries(im.rendered!).map(([axis, key]) => {
      const set = index.get(prompt.variations[axis].alternatives)!;
      return set.texts[set.keys.indexOf(key)];
    });
    return [hashBytes(readFileSync(im.path)), shown];
  }));
}

// CLIP's binding mistakes are confident ones (the shared word matches strongly), so the tier asks up to a high certainty.
const ONLY_BELOW = 0.9;

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

  it('binds attributes where CLIP does not: strictly better on the axis the demo CLIP gets wrongest', async () => {
    // The demo CLIP embeds a picture as the sum of its values' token codes, so when two axes
    // share colour words ("red hair", "red dress") it cannot tell which the colour belongs to,
    // as a real CLIP often cannot. The stand-in answers from what was painted.
    const paired: Record<string, [string, string][]> = {
      HairColor: [['red', 'red hair'], ['black', 'black hair'], ['white', 'white hair']],
      Outfit: [['red', 'red dress'], ['black', 'black dress'], ['white', 'white dress']],
      Place: [['beach', 'sunny beach'], ['city', 'city street at night'], ['forest', 'dark forest']],
    };
    const world = mkdtempSync(join(tmpdir(), 'sdloop-vqa-paired-'));
    const pairedPrompts = Array.from({ length: 30 }, (_, i) => promptRow(i, paired));
    const pairedImages = await generate(world, pairedPrompts, 0.4, paired);
    const binder = await startVisionStandIn({ truth: truthTable(pairedImages, pairedPrompts, alternativesIndex(paired)), logprobs: false });
    try {
      const run = async (vqa: Record<string, unknown> | null) => {
        const params = scoreStageParams.parse({ score: { workers: 0, vqa } });
        const ctx = makeTestContext({ dir: world, params, inputs: { axes: axesRows(paired), images: pairedImages, prompts: pairedPrompts }, stage: 'score' });
        return (await runMapStage(scoreStage, ctx)).tables.scores as Scored[];
      };
      const right = (rows: Scored[], axis: string) => rows.filter((s) => {
        const painted = pairedImages.find((im) => im.image_id === s.image_id)!.rendered![s.axis];
        return s.axis === axis && s.matched === (painted === s.value);
      }).length;
      const clip = await run(null);
      const vqa = await run({ endpoint: binder.url, model: 'standin-vl', only_below_margin: ONLY_BELOW });
      const axes = Object.keys(paired);
      const wrongest = axes.reduce((a, b) => (right(clip, b) < right(clip, a) ? b : a));
      for (const axis of axes) expect(right(vqa, axis), axis).toBeGreaterThanOrEqual(right(clip, axis));
      expect(right(vqa, wrongest)).toBeGreaterThan(right(clip, wrongest));
    } finally {
      await binder.close();
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
