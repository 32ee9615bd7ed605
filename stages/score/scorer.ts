// The scorer behind the score stage and the benchmark stage: per image, zero-shot
// adherence of every variation axis (full image, then a zone crop, then a fallback model
// while uncertain), quality checks and the embedding.
import { join, resolve } from 'node:path';
import { loadClipModel, type ClipModel } from '../../adapters/clip-onnx.js';
import type { EmbeddingRow, FrameRow, PromptRow, QualityRow, ReadingRow, ScoreRow } from '../../schemas/tables.js';
import { createTextEmbedder, scoreAxis } from './adherence.js';
import { resolveModelDir, type ScorerOptions } from './models.js';
import { createPreprocessor, type ImageSource } from './preprocess-pool.js';
import { frameFlags, PIXEL_CHECKS_VERSION, type PixelChecks } from './quality.js';
import { loadAestheticHead } from './aesthetic.js';
import { executionOf, phrasingsFor, type ScoreParams } from './params.js';
import { deriveImage } from './derive.js';
import { fileEmbeddingMemo, fileJsonMemo, imageKey, memoised, noEmbeddingMemo, withTextMemo } from './embedding-memo.js';
import { hashValue } from '../../src/hash.js';
import { pixelChecksRecord } from '../../schemas/score-cache.js';
import { createVqaTier, type VqaTier } from './vqa.js';
import { assembleRows, type Reading } from './assemble.js';
import { alternativesOf, type Alternatives, type AlternativesIndex } from '../resolve/alternatives.js';

export type { Alternatives };

export interface ScoreItem {
  /** the image's content hash: embeddings are memoised under it */
  image_id: string;
  prompt_id: string;
  source: ImageSource;
  /** axis -> the key the prompt asked for and the alternatives to compare */
  variations: Record<string, Alternatives>;
  /** the backend already reported a blank image */
  blank?: boolean;
}

export interface ScoredImages {
  scores: ScoreRow[];
  quality: QualityRow[];
  embeddings: EmbeddingRow[];
}

/** What the model and the pixel checks measured, before any threshold but the blank-frame ones. */
export interface MeasuredImages {
  readings: ReadingRow[];
  frames: FrameRow[];
  embeddings: EmbeddingRow[];
}

export interface Scorer {
  /** model name per tier, primary first */
  models: string[];
  /** where the models run, as cpu or cuda:N */
  device: string;
  /** preprocessing worker threads actually running (0 when running from TypeScript sources) */
  workers: number;
  /** Measurements only, in item order (one frame and embedding each, one reading per axis): what the score stage memoises. */
  measureItems(items: ScoreItem[]): Promise<MeasuredImages>;
  /** Measurements with the thresholds applied (derive.ts). */
  scoreItems(items: ScoreItem[]): Promise<ScoredImages>;
  /** The benchmark's entry point: PNG bytes with their prompt rows. */
  /** `alternatives`: the axes rows the prompts' variations name */
  scoreImages(items: { png: Uint8Array; image_id: string; prompt: PromptRow }[], alternatives: AlternativesIndex): Promise<ScoredImages>;
  stats(): ScorerStats;
  close(): Promise<void>;
}

export interface ScorerStats {
  /** images scored */
  images: number;
  /** time the model spent embedding images; against wall time it says whether decoding kept up */
  inferenceSeconds: number;
  /** views (whole images and zone crops) the vision model embedded; memoised ones are not counted */
  visionEmbeddings: number;
  /** images decoded and checked; a re-score whose embeddings and checks are kept decodes none */
  decoded: number;
  /** questions sent to the VQA endpoint; memoised answers are not counted */
  vqaQuestions: number;
}

/** An image ready to measure: its checks, and its pixels unless its embedding is kept. */
interface Ready {
  checks: PixelChecks;
  pixels?: Float32Array;
}

interface Tier {
  model: ClipModel;
  embedAlternatives: ReturnType<typeof createTextEmbedder>;
}

/** Runs one inference at a time: concurrent batches overlap preprocessing, not ONNX threads. */
function serial() {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(fn: () => Promise<T>): Promise<T> => {
    const run = tail.then(fn, fn);
    tail = run.catch(() => undefined);
    return run;
  };
}

export function scoreItemOf(image_id: string, source: ImageSource, prompt: PromptRow, alternatives: AlternativesIndex): ScoreItem {
  return { image_id, prompt_id: prompt.prompt_id, source, variations: alternativesOf(prompt, alternatives) };
}

export async function createScorer(params: ScoreParams, options: ScorerOptions): Promise<Scorer> {
  const { device, batchSize, workers } = executionOf(params);
  const memo = options.cacheDir ? fileEmbeddingMemo(join(options.cacheDir, 'embeddings')) : noEmbeddingMemo;
  const checksMemo = fileJsonMemo(options.cacheDir && join(options.cacheDir, 'checks'), pixelChecksRecord);
  const vqa = params.vqa && createVqaTier(params.vqa, options.cacheDir && join(options.cacheDir, 'vqa'));
  const load = async (model: string, name?: string) => {
    const clip = withTextMemo(await loadClipModel(await resolveModelDir(model, options), { variant: params.variant, threads: params.threads, name, device }), memo);
    return { model: clip, embedAlternatives: createTextEmbedder(clip) };
  };
  const tiers: Tier[] = [await load(params.model, params.model === 'demo' ? 'demo' : undefined)];
  if (params.fallback_model) tiers.push(await load(params.fallback_model));
  const primary = tiers[0].model;
  const aesthetic = params.aesthetic_head ? await loadAestheticHead(resolve(options.projectDir, params.aesthetic_head), primary.dim) : null;
  const pool = createPreprocessor(workers);
  const exclusive = serial();
  const t = params.thresholds;

  const stats = { images: 0, inferenceSeconds: 0, visionEmbeddings: 0, decoded: 0 };
  /** Embeddings of the views `keys` name; pixels are made only for the ones not kept. */
  const embed = (tier: Tier, keys: string[], pixelsOf: (i: number) => Promise<Float32Array>): Promise<Float32Array[]> =>
    memoised(memo, keys, async (missing) => runVision(tier, await Promise.all(missing.map(pixelsOf))));
  const runVision = async (tier: Tier, pixels: Float32Array[]): Promise<Float32Array[]> => {
    stats.visionEmbeddings += pixels.length;
    const out: Float32Array[] = [];
    for (let i = 0; i < pixels.length; i += batchSize) {
      const embedded = await exclusive(async () => {
        const started = performance.now();
        const result = await tier.model.embedImages(pixels.slice(i, i + batchSize));
        stats.inferenceSeconds += (performance.now() - started) / 1000;
        return result;
      });
      out.push(...embedded);
    }
    return out;
  };

  const readAxis = async (tier: Tier, image: Float32Array, axis: string, alt: Alternatives, method: string): Promise<Reading> => {
    const target = alt.keys.indexOf(alt.key);
    if (target < 0 || alt.texts.length !== alt.keys.length) {
      throw new Error(`axis ${axis}: expected key ${alt.key} among its ${alt.keys.length} keys, with one text per key`);
    }
    const texts = await tier.embedAlternatives(alt.texts, phrasingsFor(params, axis));
    return { score: scoreAxis(image, texts, target), method, model: tier.model.name };
  };

  /** Ask a tier about every still-uncertain (item, axis): whole image (except for the primary), then zones. */
  const retry = async (tier: Tier, items: ScoreItem[], readings: Map<string, Reading>[], wholeImage: boolean) => {
    // One crop per (item, view), read for every uncertain axis it serves.
    const jobs = new Map<string, { item: number; box: number[]; method: string; axes: string[] }>();
    const want = (item: number, axis: string, box: number[], method: string) => {
      const key = `${item}\u0000${method}`;
      const job = jobs.get(key) ?? { item, box, method, axes: [] };
      job.axes.push(axis);
      jobs.set(key, job);
    };
    readings.forEach((read, i) => {
      for (const [axis, reading] of read) {
        if (reading.score.certainty >= params.cascade_margin) continue;
        if (wholeImage) want(i, axis, [0, 0, 1, 1], 'full');
        for (const [name, z] of Object.entries(params.zones)) if (z.axis === axis) want(i, axis, z.box, `zone:${name}`);
      }
    });
    const list = [...jobs.values()];
    const keys = list.map((j) => imageKey(tier.model, items[j.item].image_id, j.box));
    const embeddings = await embed(tier, keys, (n) => pool.crop(items[list[n].item].source, tier.model.preprocess, list[n].box));
    for (const [n, job] of list.entries()) {
      for (const axis of job.axes) {
        const reading = await readAxis(tier, embeddings[n], axis, items[job.item].variations[axis], job.method);
        if (reading.score.certainty > readings[job.item].get(axis)!.score.certainty) readings[job.item].set(axis, reading);
      }
    }
  };

  /** The last tier: every axis still unsure after CLIP's, each axis's values asked at once. */
  const askVqa = (tier: VqaTier, items: ScoreItem[], readings: Map<string, Reading>[]) =>
    Promise.all(items.flatMap((item, i) => [...readings[i]]
      .filter(([, r]) => tier.wants(r.score.certainty))
      .map(async ([axis]) => {
        const alt = item.variations[axis];
        readings[i].set(axis, await tier.read(item, alt.texts, alt.keys.indexOf(alt.key)));
      })));

  /**
   * Decoded and checked, unless both the image's embedding and its checks are kept: then a
   * re-score reads neither the file nor the model.
   */
  const prepareOne = async (item: ScoreItem): Promise<Ready> => {
    const checksKey = hashValue(['checks', PIXEL_CHECKS_VERSION, item.image_id]);
    const kept = await checksMemo.get(checksKey);
    if (kept && (await memo.get(imageKey(primary, item.image_id, 'prepared')))) return { checks: kept };
    const prepared = await pool.prepare(item.source, primary.preprocess);
    stats.decoded++;
    await checksMemo.put(checksKey, prepared.checks);
    return prepared;
  };
  const prepareAll = (items: ScoreItem[]) => Promise.all(items.map(prepareOne));

  /** Chunks of batch_size, the next one decoding while the current one is inferred: memory stays bounded. */
  const measureItems = async (items: ScoreItem[]): Promise<MeasuredImages> => {
    const out: MeasuredImages = { readings: [], frames: [], embeddings: [] };
    const chunks: ScoreItem[][] = [];
    for (let i = 0; i < items.length; i += batchSize) chunks.push(items.slice(i, i + batchSize));
    let next = chunks.length ? prepareAll(chunks[0]) : null;
    for (const [k, chunk] of chunks.entries()) {
      const prepared = await next!;
      next = k + 1 < chunks.length ? prepareAll(chunks[k + 1]) : null;
      const measured = await measureChunk(chunk, prepared);
      out.readings.push(...measured.readings);
      out.frames.push(...measured.frames);
      out.embeddings.push(...measured.embeddings);
    }
    return out;
  };

  const scoreItems = async (items: ScoreItem[]): Promise<ScoredImages> => {
    const { readings, frames, embeddings } = await measureItems(items);
    const out: ScoredImages = { scores: [], quality: [], embeddings };
    let at = 0;
    for (const [i, item] of items.entries()) {
      const axes = Object.keys(item.variations).length;
      const derived = deriveImage(frames[i]!, readings.slice(at, (at += axes)), t);
      out.scores.push(...derived.scores);
      out.quality.push(derived.quality);
    }
    return out;
  };

  const measureChunk = async (items: ScoreItem[], prepared: Ready[]): Promise<MeasuredImages> => {
    const keys = items.map((item) => imageKey(primary, item.image_id, 'prepared'));
    // A kept embedding can vanish between the check and the read (a cleaned cache): decode then.
    const pixelsOf = async (i: number) => prepared[i].pixels ?? (await pool.prepare(items[i].source, primary.preprocess)).pixels;
    const embeddings = await embed(tiers[0], keys, pixelsOf);
    const blank = items.map((item, i) => Boolean(item.blank) || frameFlags(prepared[i].checks, t).blank);
    const readings: Map<string, Reading>[] = [];
    for (const [i, item] of items.entries()) {
      const read = new Map<string, Reading>();
      if (!blank[i]) {
        for (const [axis, alt] of Object.entries(item.variations)) read.set(axis, await readAxis(tiers[0], embeddings[i], axis, alt, 'full'));
      }
      readings.push(read);
    }
    await retry(tiers[0], items, readings, false);
    for (const tier of tiers.slice(1)) await retry(tier, items, readings, true);
    if (vqa) await askVqa(vqa, items, readings);
    stats.images += items.length;
    const aesthetics = aesthetic ? await aesthetic.score(embeddings) : null;
    return assembleRows({ items, prepared, embeddings, blank, readings, aesthetics }, { model: primary.name, thresholds: t });
  };

  let closing: Promise<void> | undefined;
  return {
    models: [...tiers.map((tier) => tier.model.name), ...(vqa ? [`${vqa.model} (VQA)`] : [])],
    device: primary.device,
    workers: pool.workers,
    measureItems,
    scoreItems,
    stats: () => ({ ...stats, vqaQuestions: vqa?.asked() ?? 0 }),
    scoreImages: (items, alternatives) => scoreItems(items.map((it) => scoreItemOf(it.image_id, it.png, it.prompt, alternatives))),
    // Closed once, however often asked: the stage releases it before assembly and tears it down after.
    close: () => (closing ??= (async () => {
      await pool.close();
      await aesthetic?.close();
      for (const tier of tiers) await tier.model.close();
    })()),
  };
}
