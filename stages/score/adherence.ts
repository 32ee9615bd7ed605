// Zero-shot adherence of one image to one variation axis: softmax(100 * cos) over the
// texts of the axis' alternatives, each text embedded as a prompt ensemble.
import type { ClipModel } from '../../adapters/clip-onnx.js';

/** CLIP's learned logit scale, exp(4.6052) = 100. */
export const LOGIT_SCALE = 100;

export interface AxisScore {
  p_target: number;
  /** p_target minus the best other alternative */
  margin: number;
  /** 1 when the target is the most likely alternative */
  rank: number;
  top_index: number;
  /** how sure the model is of whatever it picked: top p minus second p */
  certainty: number;
}

export function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

export function softmax(logits: number[]): number[] {
  const max = Math.max(...logits);
  const exps = logits.map((l) => Math.exp(l - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

/** Probabilities of the alternatives given a unit image embedding and unit text embeddings. */
export function scoreAxis(image: Float32Array, alternatives: Float32Array[], target: number): AxisScore {
  return scoreProbabilities(softmax(alternatives.map((t) => LOGIT_SCALE * dot(image, t))), target);
}

/** Margin, rank and certainty of the target among probabilities that sum to 1 (CLIP's softmax, normalised VQA answers). */
export function scoreProbabilities(p: number[], target: number): AxisScore {
  const pTarget = p[target];
  let bestOther = 0;
  let top = 0;
  let second = 0;
  p.forEach((pk, k) => {
    if (k !== target) bestOther = Math.max(bestOther, pk);
    if (pk > p[top]) top = k;
  });
  p.forEach((pk, k) => {
    if (k !== top) second = Math.max(second, pk);
  });
  return {
    p_target: pTarget,
    margin: pTarget - bestOther,
    rank: 1 + p.filter((pk) => pk > pTarget).length,
    top_index: top,
    certainty: p[top] - second,
  };
}

function averageUnit(vectors: Float32Array[]): Float32Array {
  const out = new Float32Array(vectors[0].length);
  for (const v of vectors) for (let i = 0; i < v.length; i++) out[i] += v[i];
  let norm = 0;
  for (const x of out) norm += x * x;
  norm = Math.sqrt(norm) || 1;
  return out.map((x) => x / norm);
}

export function phrase(template: string, text: string): string {
  return template.replaceAll('{v}', text);
}

/**
 * The ensemble embedding of each text: every phrasing embedded and normalised, averaged,
 * normalised again. Texts repeat across images, so results are kept per (model, phrasings, text).
 */
export function createTextEmbedder(model: ClipModel) {
  const cache = new Map<string, Float32Array>();
  return async function embedAlternatives(texts: string[], phrasings: string[]): Promise<Float32Array[]> {
    const keyOf = (text: string) => `${phrasings.join('\u0000')}\u0001${text}`;
    const missing = [...new Set(texts.filter((t) => !cache.has(keyOf(t))))];
    if (missing.length > 0) {
      const sentences = missing.flatMap((t) => phrasings.map((ph) => phrase(ph, t)));
      const embedded = await model.embedTexts(sentences);
      missing.forEach((t, i) => cache.set(keyOf(t), averageUnit(embedded.slice(i * phrasings.length, (i + 1) * phrasings.length))));
    }
    return texts.map((t) => cache.get(keyOf(t))!);
  };
}
