// The scorer behind the score stage and the benchmark stage: per image, zero-shot
// adherence of every variation axis (full image, then a zone crop, then a fallback model
// while uncertain), quality checks and the embedding.
import { isAbsolute, join, resolve } from 'node:path';
import { loadClipModel, type ClipModel, type FileHasher } from '../../adapters/clip-onnx.js';
import type { EmbeddingRow, FrameRow, PromptRow, QualityRow, ReadingRow, ScoreRow } from '../../schemas/tables.js';
import { createTextEmbedder, scoreAxis, type AxisScore } from './adherence.js';
import { ensureDemoModel } from '../../demo/clip-model.js';
import { createPreprocessor, type ImageSource, type Prepared } from './preprocess-pool.js';
import { aestheticScore, frameFlags, readAestheticHead, type AestheticHead } from './quality.js';
import { executionOf, phrasingsFor, type ScoreParams } from './params.js';
import { deriveImage } from './derive.js';
import { fileEmbeddingMemo, imageKey, memoised, noEmbeddingMemo, withTextMemo } from './embedding-memo.js';

export interface Alternatives {
  key: string;
  keys: string[];
  texts: string[];
}

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
  scoreImages(items: { png: Uint8Array; image_id: string; prompt: PromptRow }[]): Promise<ScoredImages>;
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
}

export interface ScorerOptions {
  projectDir: string;
  /** where the demo model is written; defaults to <projectDir>/data */
  dataDir?: string;
  /** where embeddings are kept across runs (embedding-memo.ts); none kept without it */
  memoDir?: string;
}

/** `demo` is the built-in demo model (written on first use); anything else a CLIP folder. */
export async function resolveModelDir(model: string, options: ScorerOptions): Promise<string> {
  if (model === 'demo') return ensureDemoModel(options.dataDir ?? join(options.projectDir, 'data'));
  return isAbsolute(model) ? model : resolve(options.projectDir, model);
}

interface Tier {
  model: ClipModel;
  embedAlternatives: ReturnType<typeof createTextEmbedder>;
}

interface Reading {
  score: AxisScore;
  method: string;
  model: string;
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

export function scoreItemOf(image_id: string, source: ImageSource, prompt: PromptRow): ScoreItem {
  const variations = Object.fromEntries(
    Object.entries(prompt.variations).map(([axis, v]) => [axis, { key: v.key, keys: v.keys, texts: v.texts }]),
  );
  return { image_id, prompt_id: prompt.prompt_id, source, variations };
}

export async function createScorer(params: ScoreParams, options: ScorerOptions): Promise<Scorer> {
  const { device, batchSize, workers } = executionOf(params);
  const memo = options.memoDir ? fileEmbeddingMemo(options.memoDir) : noEmbeddingMemo;
  const load = async (model: string, name?: string) => {
    const clip = withTextMemo(await loadClipModel(await resolveModelDir(model, options), { variant: params.variant, threads: params.threads, name, device }), memo);
    return { model: clip, embedAlternatives: createTextEmbedder(clip) };
  };
  const tiers: Tier[] = [await load(params.model, params.model === 'demo' ? 'demo' : undefined)];
  if (params.fallback_model) tiers.push(await load(params.fallback_model));
  const primary = tiers[0].model;
  const head: AestheticHead | null = params.aesthetic_head
    ? readAestheticHead(resolve(options.projectDir, params.aesthetic_head), primary.dim)
    : null;
  const pool = createPreprocessor(workers);
  const exclusive = serial();
  const t = params.thresholds;

  const stats: ScorerStats = { images: 0, inferenceSeconds: 0, visionEmbeddings: 0 };
  const embed = (tier: Tier, pixels: Float32Array[], keys: string[]): Promise<Float32Array[]> =>
    memoised(memo, keys, (missing) => runVision(tier, missing.map((i) => pixels[i])));
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
    const pixels = await Promise.all(list.map((j) => pool.crop(items[j.item].source, tier.model.preprocess, j.box)));
    const embeddings = await embed(tier, pixels, list.map((j) => imageKey(tier.model, items[j.item].image_id, j.box)));
    for (const [n, job] of list.entries()) {
      for (const axis of job.axes) {
        const reading = await readAxis(tier, embeddings[n], axis, items[job.item].variations[axis], job.method);
        if (reading.score.certainty > readings[job.item].get(axis)!.score.certainty) readings[job.item].set(axis, reading);
      }
    }
  };

  const prepareAll = (items: ScoreItem[]) => Promise.all(items.map((item) => pool.prepare(item.source, primary.preprocess)));

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

  const measureChunk = async (items: ScoreItem[], prepared: Prepared[]): Promise<MeasuredImages> => {
    const keys = items.map((item) => imageKey(primary, item.image_id, 'prepared'));
    const embeddings = await embed(tiers[0], prepared.map((p) => p.pixels), keys);
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
    stats.images += items.length;
    return assemble(items, prepared, embeddings, blank, readings);
  };

  const assemble = (
    items: ScoreItem[],
    prepared: Prepared[],
    embeddings: Float32Array[],
    blank: boolean[],
    readings: Map<string, Reading>[],
  ): MeasuredImages => {
    const out: MeasuredImages = { readings: [], frames: [], embeddings: [] };
    for (const [i, item] of items.entries()) {
      const ids = { image_id: item.image_id, prompt_id: item.prompt_id };
      const axes = Object.entries(item.variations);
      const rows = axes.map(([axis, alt]): ReadingRow => {
        const r = readings[i].get(axis);
        return r
          ? { ...ids, axis, value: alt.key, p_target: r.score.p_target, margin: r.score.margin, rank: r.score.rank,
              top_value: alt.keys[r.score.top_index], method: r.method, model: r.model }
          : { ...ids, axis, value: alt.key, p_target: 0, margin: -1, rank: alt.keys.length, top_value: '', method: 'blank', model: primary.name };
      });
      out.readings.push(...rows);
      const checks = prepared[i].checks;
      const flags = frameFlags(checks, t);
      out.frames.push({
        ...ids,
        blank: blank[i],
        uniform: flags.uniform,
        black: flags.black,
        blur: checks.blur,
        phash: checks.phash,
        // Items are memoised one by one, so the row can only name the exact-hash group;
        // nearDuplicateGroups() groups within thresholds.duplicate_distance across rows.
        duplicate_group: checks.phash,
        aesthetic: head ? aestheticScore(head, embeddings[i]) : null,
        match_score: blank[i] ? 0 : rows.length ? rows.reduce((s, r) => s + r.p_target, 0) / rows.length : 1,
      });
      out.embeddings.push({ image_id: item.image_id, model: primary.name, embedding: Array.from(embeddings[i]) });
    }
    return out;
  };

  return {
    models: tiers.map((tier) => tier.model.name),
    device: primary.device,
    workers: pool.workers,
    measureItems,
    scoreItems,
    stats: () => ({ ...stats }),
    scoreImages: (items) => scoreItems(items.map((it) => scoreItemOf(it.image_id, it.png, it.prompt))),
    async close() {
      await pool.close();
      for (const tier of tiers) await tier.model.close();
    },
  };
}

/** Identities of the models in use, for the stage fingerprint. */
export async function scorerResources(params: ScoreParams, options: ScorerOptions & { fileHash: FileHasher }): Promise<Record<string, string>> {
  const { modelIdentity } = await import('../../adapters/clip-onnx.js');
  const out: Record<string, string> = { model: await modelIdentity(await resolveModelDir(params.model, options), params.variant, options.fileHash) };
  if (params.fallback_model) out.fallback_model = await modelIdentity(await resolveModelDir(params.fallback_model, options), params.variant, options.fileHash);
  return out;
}
