// The VQA tier: where CLIP stays unsure of an axis, a vision-language model is asked one
// yes/no question per value of the axis ("Does this image show red hair?"); P(yes) per
// value, normalised over the axis's values, replaces CLIP's softmax and the reading is
// recorded as method `vqa`. Answers are memoised per (image content, model, question):
// they outlive phrasings, thresholds and new images, and a re-score asks nothing twice.
import { readFile } from 'node:fs/promises';
import pLimit from 'p-limit';
import sharp from 'sharp';
import { askYesNo, type VisionEndpoint } from '../../adapters/openai-vision.js';
import { hashValue } from '../../src/hash.js';
import { vqaAnswer, type VqaAnswer } from '../../schemas/score-cache.js';
import { phrase, scoreProbabilities, type AxisScore } from './adherence.js';
import { fileJsonMemo } from './embedding-memo.js';
import type { VqaParams } from './params.js';

export interface VqaReading {
  score: AxisScore;
  method: string;
  model: string;
}

export interface VqaImage {
  /** content hash: answers are memoised under it */
  image_id: string;
  source: string | Uint8Array;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47];

/** The image as PNG bytes, as the data URL says: imported JPEGs and WebPs are converted. */
async function pngOf(source: string | Uint8Array): Promise<Uint8Array> {
  const bytes = typeof source === 'string' ? await readFile(source) : source;
  if (PNG_SIGNATURE.every((b, i) => bytes[i] === b)) return bytes;
  return sharp(bytes).png().toBuffer();
}

export interface VqaTier {
  model: string;
  /** Questions asked of the endpoint (memoised answers are not counted). */
  asked(): number;
  /** Whether CLIP's reading is unsure enough to ask. */
  wants(certainty: number): boolean;
  /** The VQA reading of one axis: the texts are the axis's values, target the asked-for one. */
  read(image: VqaImage, texts: string[], target: number): Promise<VqaReading>;
}

export function createVqaTier(params: VqaParams, memoDir?: string): VqaTier {
  const endpoint: VisionEndpoint = {
    endpoint: params.endpoint,
    model: params.model,
    timeoutMs: params.timeout_s * 1000,
    retries: params.retries,
    backoffMs: params.backoff_ms,
    apiKey: process.env.OPENAI_API_KEY,
  };
  const memo = fileJsonMemo(memoDir, vqaAnswer);
  const limit = pLimit(params.concurrency);
  let asked = 0;

  const answer = async (image: VqaImage, question: string, png: () => Promise<Uint8Array>): Promise<VqaAnswer> => {
    const key = hashValue(['vqa', image.image_id, params.model, question]);
    const kept = await memo.get(key);
    if (kept) return kept;
    const bytes = await png();
    const fresh = await limit(() => (asked++, askYesNo(endpoint, question, bytes)));
    await memo.put(key, fresh);
    return fresh;
  };

  return {
    model: params.model,
    asked: () => asked,
    wants: (certainty) => certainty < params.only_below_margin,
    async read(image, texts, target) {
      // Read and encoded once per axis, and only when some answer is not memoised.
      let png: Promise<Uint8Array> | undefined;
      const bytes = () => (png ??= pngOf(image.source));
      const answers = await Promise.all(texts.map((t) => answer(image, phrase(params.question, t), bytes)));
      const yes = answers.map((a) => a.p_yes);
      const sum = yes.reduce((a, b) => a + b, 0);
      // No value got any yes: the model sees none of them, which says nothing about which.
      const p = sum > 0 ? yes.map((y) => y / sum) : yes.map(() => 1 / yes.length);
      return { score: scoreProbabilities(p, target), method: 'vqa', model: params.model };
    },
  };
}
