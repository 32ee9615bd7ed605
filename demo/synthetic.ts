// DEMO PART: the built-in synthetic backend. It stands in for a diffusion model on a
// machine without GPU, weights or A1111: each variation value is painted as its demo
// code (world.ts) so the demo CLIP can read it back, with a configurable
// chance per value of painting another value instead (a "failed" render), which LoRAs
// named in the prompt, or folded into the pinned checkpoint by the simulated merge
// (demo/simulated-merge.ts), lower for the tags they were trained on. Every random choice comes
// from a PRNG seeded by the prompt (LoRA tags removed) and the seed, so the same row
// always gives the same PNG, and a LoRA only turns failures into successes.
import { hashBytes } from '../src/hash.js';
import type { AxisAlternativesRow, PromptRow } from '../schemas/tables.js';
import { axisRow, centreSquare, paintGrid, valueCode } from './world.js';
import { formatLoraHashes, formatParameters, writePngText } from '../adapters/png-text.js';
import { lorasInPrompt, type LoraRef } from '../adapters/a1111.js';
import type { SyntheticCheckpoint, SyntheticLora } from './synthetic-lora.js';

export const SYNTHETIC_VERSION = 'sdloop-synthetic-1';
export const SYNTHETIC_MODEL = 'sdloop-synthetic-demo';
export const SYNTHETIC_MODEL_HASH = hashBytes(SYNTHETIC_VERSION).slice(0, 10);
export const SYNTHETIC_NOTICE =
  'DEMO render by the sdloop synthetic backend (not a diffusion model): variation values are painted as codes for the demo CLIP';

export interface SyntheticOptions {
  /** chance per axis that another value is painted */
  failureRate: number;
  /** per-value overrides, keyed `Axis:Key` or `Key` */
  valueFailureRates: Record<string, number>;
  /** chance of an all-black image */
  blankRate: number;
  /** the LoRAs a prompt names, by name */
  lora(name: string): Promise<SyntheticLora>;
  /** an axis' values by the id a row's variation names (table axes): a failed draw paints another of them */
  alternatives(id: string): AxisAlternativesRow | undefined;
  /** generate.model: a simulated merge acts as the LoRAs folded into it; null, the synthetic base */
  checkpoint?: SyntheticCheckpoint | null;
}

export interface SyntheticRender {
  png: Buffer;
  seed: number;
  /** axis -> key actually painted; null for a blank image */
  rendered: Record<string, string> | null;
  blank: boolean;
  loras: LoraRef[];
  width: number;
  height: number;
}

/** mulberry32: small, fast and good enough for drawing pictures. */
function prng(seedText: string): () => number {
  let a = Number.parseInt(hashBytes(seedText).slice(0, 8), 16) >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const codeCache = new Map<string, Promise<Float32Array>>();
function cachedValueCode(text: string): Promise<Float32Array> {
  let code = codeCache.get(text);
  if (!code) codeCache.set(text, (code = valueCode(text)));
  return code;
}

function withoutLoraTags(prompt: string): string {
  return prompt.replace(/,?\s*<lora:[^>]*>/gi, '').trim();
}

function intParam(value: unknown, fallback: number): number {
  const n = Number(value);
  return Number.isFinite(n) && n > 0 ? Math.round(n) : fallback;
}

/** How much the LoRAs lower the failure chance of a value: product of (1 - W x strength). */
function loraKeep(loras: { lora: SyntheticLora; weight: number }[], key: string, text: string): number {
  let keep = 1;
  for (const { lora, weight } of loras) {
    const strength = lora.strengthOf(key, text);
    keep *= 1 - Math.min(1, Math.max(0, weight * strength));
  }
  return keep;
}

/** Seeded gradients and shapes outside the centre square: something to look at and measure. */
function decorate(rgb: Buffer, width: number, height: number, random: () => number): void {
  const { x0, y0, size } = centreSquare(width, height);
  const inSquare = (x: number, y: number) => x >= x0 && x < x0 + size && y >= y0 && y < y0 + size;
  const c1 = [random() * 255, random() * 255, random() * 255];
  const c2 = [random() * 255, random() * 255, random() * 255];
  const shapes = Array.from({ length: 6 }, () => ({
    cx: random() * width, cy: random() * height, r: 8 + random() * Math.max(8, Math.abs(height - width) / 3),
    colour: [random() * 255, random() * 255, random() * 255],
  }));
  for (let y = 0; y < height; y++) {
    const t = y / Math.max(1, height - 1);
    for (let x = 0; x < width; x++) {
      if (inSquare(x, y)) continue;
      let colour = [c1[0]! * (1 - t) + c2[0]! * t, c1[1]! * (1 - t) + c2[1]! * t, c1[2]! * (1 - t) + c2[2]! * t];
      for (const s of shapes) if ((x - s.cx) ** 2 + (y - s.cy) ** 2 < s.r * s.r) colour = s.colour;
      const p = (y * width + x) * 3;
      rgb[p] = colour[0]!;
      rgb[p + 1] = colour[1]!;
      rgb[p + 2] = colour[2]!;
    }
  }
}

/** Which key each axis shows: the planned one unless the (LoRA-lowered) failure draw hits. */
async function drawValues(row: PromptRow, options: SyntheticOptions, random: () => number, loras: LoraRef[]) {
  const loaded = await appliedLoras(options, loras);
  const rendered: Record<string, string> = {};
  for (const axis of Object.keys(row.variations).sort()) {
    const { key, text, alternatives } = row.variations[axis]!;
    const keys = options.alternatives(alternatives)?.keys ?? [key];
    const base = options.valueFailureRates[`${axis}:${key}`] ?? options.valueFailureRates[key] ?? options.failureRate;
    const fails = random() < base * loraKeep(loaded, key, text);
    const others = keys.filter((k) => k !== key);
    const pick = random();
    rendered[axis] = fails && others.length ? others[Math.floor(pick * others.length)]! : key;
  }
  return rendered;
}

/** The LoRAs a render applies: those merged into the checkpoint, then those its prompt names. */
async function appliedLoras(options: SyntheticOptions, loras: LoraRef[]): Promise<{ lora: SyntheticLora; weight: number }[]> {
  const named = await Promise.all(loras.map(async (l) => ({ lora: await options.lora(l.name), weight: l.weight })));
  return [...(options.checkpoint?.folded ?? []), ...named];
}

/**
 * A collapsing LoRA (demo) makes a share of the renders ignore the seed: their decoration
 * comes from the prompt alone, so every seed of the prompt draws the same picture. The
 * draw is made only when some LoRA collapses, so every other render keeps its bytes.
 */
async function decorationStream(row: PromptRow, options: SyntheticOptions, random: () => number, loras: LoraRef[]): Promise<() => number> {
  const collapses = (await appliedLoras(options, loras)).map((l) => Math.min(1, Math.max(0, l.weight * l.lora.collapse)));
  const keep = collapses.reduce((k, c) => k * (1 - c), 1);
  if (keep === 1) return random;
  return random() < 1 - keep ? prng(withoutLoraTags(row.api_prompt)) : random;
}

/** What a render decides before painting, from the row and the options alone; `random` goes on to decorate. */
async function drawRender(row: PromptRow, options: SyntheticOptions) {
  const width = intParam(row.params.width, 512);
  const height = intParam(row.params.height, 512);
  const seed = row.seed === -1 ? Number.parseInt(hashBytes(row.prompt_id).slice(0, 8), 16) : row.seed;
  const seeded = prng(`${withoutLoraTags(row.api_prompt)}\u0000${seed}`);
  const loras = lorasInPrompt(row.api_prompt);
  const blank = seeded() < options.blankRate;
  const rendered = blank ? null : await drawValues(row, options, seeded, loras);
  const random = blank ? seeded : await decorationStream(row, options, seeded, loras);
  return { width, height, seed, random, loras, blank, rendered };
}

const paintedText = (row: PromptRow, axis: string, key: string, options: SyntheticOptions) => {
  const v = row.variations[axis]!;
  if (key === v.key) return v.text;
  const set = options.alternatives(v.alternatives);
  return set?.texts[set.keys.indexOf(key)] ?? key;
};

/**
 * Exactly what a render of this row reads: the alternatives of an axis matter only when its
 * failure draw hits, so the identity holds the text painted per axis, not the axis' list of
 * values, and a value added to a variations file leaves the other images alone.
 */
export async function syntheticIdentity(row: PromptRow, options: SyntheticOptions): Promise<unknown> {
  const { width, height, seed, loras, blank, rendered } = await drawRender(row, options);
  const painted = rendered && Object.keys(row.variations).map((axis) => [axis, rendered[axis]!, paintedText(row, axis, rendered[axis]!, options)]);
  const p = row.params;
  const settings = [p.steps, p.sampler_name ?? p.sampler, p.scheduler, p.cfg_scale];
  const loraHashes = await Promise.all(loras.map(async (l) => [l.name, (await options.lora(l.name)).shortHash]));
  const checkpoint = options.checkpoint ? { checkpoint: [options.checkpoint.name, options.checkpoint.shortHash] } : {};
  return { renderer: SYNTHETIC_VERSION, prompt: row.api_prompt, negative: row.negative_prompt, seed, width, height, settings, blank, painted, loraHashes, ...checkpoint };
}

export async function renderSynthetic(row: PromptRow, options: SyntheticOptions): Promise<SyntheticRender> {
  const { default: sharp } = await import('sharp');
  const { width, height, seed, random, loras, blank, rendered } = await drawRender(row, options);
  const rgb = Buffer.alloc(width * height * 3);
  if (rendered) {
    decorate(rgb, width, height, random);
    const axes = Object.keys(row.variations);
    const rows = await Promise.all(
      axes.map(async (axis) => ({ row: axisRow(axis, axes), code: await cachedValueCode(paintedText(row, axis, rendered[axis]!, options)) })),
    );
    paintGrid(rgb, width, height, rows);
  }
  const encoded = await sharp(rgb, { raw: { width, height, channels: 3 } }).png({ compressionLevel: 6 }).toBuffer();
  const png = writePngText(encoded, {
    parameters: await syntheticParameters(row, seed, width, height, loras, options),
    sdloop: SYNTHETIC_NOTICE,
  });
  return { png, seed, rendered, blank, loras, width, height };
}

async function syntheticParameters(row: PromptRow, seed: number, width: number, height: number, loras: LoraRef[], options: SyntheticOptions) {
  const p = row.params;
  const settings: Record<string, string> = {
    Steps: String(p.steps ?? 20),
    Sampler: String(p.sampler_name ?? p.sampler ?? 'Euler a'),
    ...(p.scheduler ? { 'Schedule type': String(p.scheduler) } : {}),
    'CFG scale': String(p.cfg_scale ?? 7),
    Seed: String(seed),
    Size: `${width}x${height}`,
    'Model hash': options.checkpoint?.shortHash ?? SYNTHETIC_MODEL_HASH,
    Model: options.checkpoint?.name ?? SYNTHETIC_MODEL,
  };
  if (loras.length) {
    const hashes = await Promise.all(loras.map(async (l) => ({ name: l.name, shortHash: (await options.lora(l.name)).shortHash })));
    settings['Lora hashes'] = formatLoraHashes(hashes);
  }
  settings.Version = 'sdloop-synthetic (demo)';
  return formatParameters({ prompt: row.api_prompt, negativePrompt: row.negative_prompt, settings });
}
