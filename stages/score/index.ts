// Score stage: for every generated image, how well each variation of its prompt rendered
// (zero-shot CLIP adherence), weight-free quality checks and the image embedding. A map
// stage: each image is measured once and memoised under its content and the scorer's
// identity, so new images score only themselves; verdicts and flags are derived from the
// stored measurements by SQL (derive.ts), so a threshold change runs no CLIP.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { defineMapStage, type ItemResult, type StageContext } from '../../src/stage.js';
import { StageFailure } from '../../src/errors.js';
import { VisionEndpointError } from '../../adapters/openai-vision.js';
import { embeddingRow, frameRow, qualityRow, readingRow, scoreRow } from '../../schemas/tables.js';
import { executionOf, scoreStageParams, type ScoreStageParams } from './params.js';
import { deriveQueries } from './derive.js';
import type { MeasuredImages, ScoreItem, Scorer } from './scorer.js';
import { importedSources, scoreItems, type ScoreStageItem } from './items.js';

export default defineMapStage<ScoreStageParams, ScoreStageItem, Scorer>({
  description: 'CLIP adherence per variation, quality checks and embeddings of every image',
  // Bump when a change here, in the scorer or in the pixel checks changes a measurement.
  // 2: texts are cleaned as OpenAI's tokenizer cleans them (curly quotes, fullwidth forms,
  // ligatures, entities) and a literal <|endoftext|> is text, so such prompts read anew.
  version: '2',
  params: scoreStageParams,
  outputs: {
    scores: { kind: 'table', schema: scoreRow, key: ['image_id', 'axis'] },
    quality: { kind: 'table', schema: qualityRow, key: ['image_id'] },
    embeddings: { kind: 'table', schema: embeddingRow, key: ['image_id', 'model'] },
  },
  measures: { readings: readingRow, frames: frameRow, embeddings: embeddingRow },
  derive: (params) => deriveQueries(params.score.thresholds),
  over: 'images',
  key: 'image_id',
  identity: measurementIdentities,

  items: scoreItems,

  batchSize: (params) => executionOf(params.score).batchSize,
  // Two batches in flight: one decodes on the workers while the other runs the model.
  concurrency: () => 2,

  resourceLabels: { model: 'the CLIP model (score.model)', fallback_model: 'the fallback CLIP model' },
  async resources(ctx) {
    const { scorerResources } = await import('./models.js');
    return scorerResources(ctx.params.score, { projectDir: ctx.projectDir, dataDir: ctx.dataDir, fileHash: ctx.fileHash });
  },

  async setup(ctx) {
    const { createScorer } = await import('./scorer.js');
    const cacheDir = join(ctx.dataDir, 'cache');
    const scorer = await createScorer(ctx.params.score, { projectDir: ctx.projectDir, dataDir: ctx.dataDir, cacheDir });
    const { batchSize } = executionOf(ctx.params.score);
    ctx.log(`scoring with ${scorer.models.join(' then ')} on ${scorer.device} (batch ${batchSize}, ${scorer.workers} preprocessing workers)`);
    return scorer;
  },

  async mapBatch(items, ctx, scorer) {
    const imported = await importedSources(ctx);
    const asScoreItem = (item: ScoreStageItem): ScoreItem => ({
      ...item,
      source: imported.get(item.image_id) ?? ctx.store.pathOf(item.image_id, 'png'),
      blank: item.status === 'blank',
    });
    // A missing image is not a bad image: retrying cannot help, and the tables must not
    // say it was measured, so the stage fails (exit 1) naming it instead of recording a failed item.
    const gone = items.map(asScoreItem).find((item) => typeof item.source === 'string' && !existsSync(item.source));
    if (gone) throw new StageFailure('score', `image ${gone.image_id} is missing: ${gone.source} does not exist (moved or deleted after it was catalogued)`);
    try {
      return splitByItem(items, await scorer.measureItems(items.map(asScoreItem)));
    } catch (err) {
      // An endpoint that does not answer fails every image alike: stop, do not retry one by one.
      if (err instanceof VisionEndpointError) throw new StageFailure('score', err.message);
      // Find the images at fault (unreadable, corrupt) so the rest of the batch still counts.
      const results: ItemResult[] = [];
      for (const item of items) {
        try {
          results.push(...splitByItem([item], await scorer.measureItems([asScoreItem(item)])));
        } catch (err) {
          results.push({ rows: {}, error: `image ${item.image_id}: ${(err as Error).message}` });
        }
      }
      return results;
    }
  },

  async finish(ctx, scorer) {
    // No scorer when every image was already scored: nothing ran.
    if (!scorer) return;
    const { images, inferenceSeconds, visionEmbeddings, decoded, vqaQuestions } = scorer.stats();
    const asked = ctx.params.score.vqa ? `, ${vqaQuestions} questions to ${ctx.params.score.vqa.model}` : '';
    if (images > 0) ctx.log(`scored ${images} images (${decoded} decoded, ${visionEmbeddings} views through the vision model, the rest remembered${asked}); the model ran ${inferenceSeconds.toFixed(1)} s of it`);
  },

  // The model and the preprocessing workers are not needed to assemble the tables.
  release: (scorer) => scorer.close(),
  async teardown(scorer) {
    await scorer?.close();
  },
});

/** The scorer's rows are in item order: one frame and embedding row each, one reading per axis. */
function splitByItem(items: ScoreStageItem[], measured: MeasuredImages): ItemResult[] {
  let at = 0;
  return items.map((item, i) => {
    const axes = Object.keys(item.variations).length;
    const readings = measured.readings.slice(at, at + axes);
    at += axes;
    return { rows: { readings, frames: [measured.frames[i]], embeddings: [measured.embeddings[i]] } };
  });
}

/**
 * What a measurement depends on: the image's content (image_id is its hash), what its
 * prompt asked for (the alternatives are what CLIP compares), the prompt it is recorded
 * under, and the params that change a reading. The models come in by content as the
 * stage's resources; the aesthetic head is hashed here. Batch sizes, workers, threads and
 * the derivation thresholds are left out.
 */
async function measurementIdentities(items: ScoreStageItem[], ctx: StageContext<ScoreStageParams>): Promise<unknown[]> {
  const s = ctx.params.score;
  const head = s.aesthetic_head ? await ctx.fileHash(resolve(ctx.projectDir, s.aesthetic_head)) : null;
  const reading = {
    phrasings: s.phrasings, zones: s.zones, cascade_margin: s.cascade_margin, aesthetic_head: head,
    vqa: s.vqa && { model: s.vqa.model, only_below_margin: s.vqa.only_below_margin, question: s.vqa.question },
    black_mean: s.thresholds.black_mean, uniform_std: s.thresholds.uniform_std,
  };
  return items.map((item) => ({ item, reading }));
}
