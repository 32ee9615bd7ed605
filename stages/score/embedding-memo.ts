// Embeddings kept across runs, so a change to what is compared (phrasings, axes, values)
// re-runs only the text tower and the softmax. An image embedding is keyed by the image's
// content, the vision model's content, its preprocessing and the view (whole image or a
// zone crop); a text embedding by the token ids and the text model's content, so a
// tokenizer change misses rather than reusing vectors of other ids. One little-endian
// float32 file per embedding, no header: the key already names its model, so its length
// is that model's width; written atomically, so a killed run leaves none half-written.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../src/atomic.js';
import { hashValue } from '../../src/hash.js';
import type { z } from 'zod';
import type { ClipModel } from '../../adapters/clip-onnx.js';
import { PREPROCESS_CODE_VERSION } from '../../adapters/clip-preprocess.js';

export interface EmbeddingMemo {
  get(key: string): Promise<Float32Array | undefined>;
  put(key: string, vector: Float32Array): Promise<void>;
}

/** A memo under `dir`, fanned out by the key's first two characters like the object store. */
export function fileEmbeddingMemo(dir: string): EmbeddingMemo {
  const pathOf = (key: string) => join(dir, key.slice(0, 2), `${key}.f32`);
  return {
    async get(key) {
      try {
        const bytes = await readFile(pathOf(key));
        return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4).slice();
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
    },
    put: (key, vector) => writeFileAtomic(pathOf(key), new Uint8Array(vector.buffer, vector.byteOffset, vector.byteLength)),
  };
}

/** Nothing kept: every call embeds (tests, one-off scorers). */
export const noEmbeddingMemo: EmbeddingMemo = { get: async () => undefined, put: async () => undefined };

/** `view`: 'prepared' for the whole image as the preprocessor resizes and crops it, else a zone's box. */
export function imageKey(model: ClipModel, imageHash: string, view: 'prepared' | readonly number[]): string {
  return hashValue(['image', model.visionIdentity, PREPROCESS_CODE_VERSION, model.preprocess, imageHash, view]);
}

export function textKey(model: ClipModel, ids: number[]): string {
  return hashValue(['text', model.textIdentity, ids]);
}

/**
 * The vectors for `keys`, computing only the missing ones with `compute` (given their
 * positions) and keeping them. Equal keys in one call are computed once.
 */
export async function memoised(
  memo: EmbeddingMemo,
  keys: string[],
  compute: (missing: number[]) => Promise<Float32Array[]>,
): Promise<Float32Array[]> {
  const found = await Promise.all(keys.map((k) => memo.get(k)));
  const firstOf = new Map<string, number>();
  keys.forEach((k, i) => {
    if (!found[i] && !firstOf.has(k)) firstOf.set(k, i);
  });
  const missing = [...firstOf.values()];
  if (missing.length > 0) {
    const computed = await compute(missing);
    await Promise.all(missing.map((at, n) => memo.put(keys[at], computed[n])));
    const byKey = new Map(missing.map((at, n) => [keys[at], computed[n]]));
    keys.forEach((k, i) => (found[i] ??= byKey.get(k)));
  }
  return found as Float32Array[];
}

/** The model with its text embeddings kept in `memo`: the text tower runs once per phrasing ever. */
export function withTextMemo(model: ClipModel, memo: EmbeddingMemo): ClipModel {
  const embedTexts = (texts: string[]) =>
    memoised(memo, texts.map((t) => textKey(model, model.tokenizer.encodeClip(t))), (missing) => model.embedTexts(missing.map((i) => texts[i])));
  return { ...model, embedTexts };
}

export interface JsonMemo<T> {
  get(key: string): Promise<T | undefined>;
  put(key: string, value: T): Promise<void>;
}

/** Small JSON records under `dir` (pixel checks, VQA answers), read back through their schema; none kept without a dir. */
export function fileJsonMemo<T>(dir: string | undefined, schema: z.ZodType<T>): JsonMemo<T> {
  if (!dir) return { get: async () => undefined, put: async () => undefined };
  const pathOf = (key: string) => join(dir, key.slice(0, 2), `${key}.json`);
  return {
    async get(key) {
      try {
        return schema.parse(JSON.parse(await readFile(pathOf(key), 'utf8')));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
    },
    put: (key, value) => writeFileAtomic(pathOf(key), `${JSON.stringify(value)}\n`),
  };
}
