// A user's history, built from the format specs in temporary folders: real PNGs (sharp)
// carrying A1111's `parameters` text chunk, one sdgen session of each manifest format, a
// session with gaps, an annotated one, an inferred one, a plain A1111 folder, a corrupt
// manifest and a truncated PNG. Variation files hold a text that maps to no key and one
// that maps to two.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { encodeChunk, formatParameters, readChunks, writePngText } from '../../adapters/png-text.js';

export interface Shot {
  prompt: string;
  negative?: string;
  seed: number;
  model?: [name: string, hash: string];
  /** distinct pixels per picture, so every file has its own content hash */
  colour: number;
}

/** A PNG as A1111 saves it: pixels plus the infotext in a tEXt chunk after IHDR. */
export async function a1111Png(shot: Shot, size: [number, number] = [64, 96]): Promise<Buffer> {
  const [width, height] = size;
  const c = shot.colour;
  const pixels = await sharp({ create: { width, height, channels: 3, background: { r: (c * 37) % 256, g: (c * 91) % 256, b: (c * 53) % 256 } } })
    .png().toBuffer();
  const [model, hash] = shot.model ?? ['dreamshaper_8', '879db523c3'];
  const settings = { Steps: '20', Sampler: 'DPM++ 2M', 'Schedule type': 'Karras', 'CFG scale': '7', Seed: String(shot.seed), Size: `${width}x${height}`, 'Model hash': hash, Model: model, Version: 'v1.10.1' };
  return writePngText(pixels, { parameters: formatParameters({ prompt: shot.prompt, negativePrompt: shot.negative ?? 'lowres', settings }) });
}

/** The same PNG with its text chunk moved after the pixels, just before IEND, as some tools write it. */
export function textAfterPixels(png: Buffer): Buffer {
  const chunks = readChunks(png);
  const texts = chunks.filter((c) => c.type === 'tEXt');
  const rest = chunks.filter((c) => c.type !== 'tEXt' && c.type !== 'IEND');
  return Buffer.concat([png.subarray(0, 8), ...[...rest, ...texts].map(encodeChunk), encodeChunk({ type: 'IEND', data: Buffer.alloc(0) })]);
}

function write(path: string, data: string | Buffer): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, data);
}

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

export const variationFiles = {
  'hair.yaml': 'Blonde: "blonde hair"\nBlack: "black hair"\nRed: "bright red hair"\n',
  // "smiling" is a value of Smile here and of Glad in mood.yaml: ambiguous, never guessed.
  'expression.yaml': 'Happy: "happy"\nSad: "sad"\nSmile: "smiling"\n',
  'mood.yaml': 'Glad: "smiling"\nGloomy: "gloomy"\n',
};

let colour = 0;
const next = () => ++colour;

/** V2 manifest.json, 5 planned, images 0, 1 and 3 present: 2 and 4 failed (gaps). One text maps to no key. */
async function v2Session(root: string): Promise<void> {
  const dir = join(root, '20251114_210853-portrait');
  const applied = [
    { HairColor: 'blonde hair', Expression: 'happy' },
    { HairColor: 'black hair', Expression: 'sad' },
    { HairColor: 'purple hair', Expression: 'happy' },
  ];
  const images = [];
  for (const [i, idx] of [0, 1, 3].entries()) {
    const prompt = `portrait, ${applied[i]!.HairColor}, ${applied[i]!.Expression}`;
    const filename = `portrait_${String(idx).padStart(4, '0')}_seed-${100 + idx}.png`;
    write(join(dir, filename), await a1111Png({ prompt, seed: 100 + idx, colour: next() }));
    images.push({ filename, seed: 100 + idx, prompt, negative_prompt: 'lowres', applied_variations: applied[i] });
  }
  write(join(dir, 'manifest.json'), json({
    snapshot: {
      version: '2.0', timestamp: '2025-11-14T21:08:53.123456',
      runtime_info: { sd_model_checkpoint: 'dreamshaper_8.safetensors [879db523c3]' },
      resolved_template: { prompt: 'portrait, {HairColor}, {Expression}', negative: 'lowres' },
      generation_params: { mode: 'combinatorial', seed_mode: 'progressive', base_seed: 100, num_images: 5, total_combinations: 9 },
      api_params: { width: 64, height: 96, steps: 20, cfg_scale: 7.0, sampler: 'DPM++ 2M Karras', scheduler: 'karras', batch_size: 1, n_iter: 1, enable_hr: false },
      variations: {
        HairColor: { available: ['blonde hair', 'black hair', 'purple hair'], used: ['blonde hair', 'black hair', 'purple hair'], count: 3 },
        Expression: { available: ['happy', 'sad'], used: ['happy', 'sad'], count: 2 },
      },
      fixed_placeholders: {}, theme_name: null, style: 'default',
    },
    images,
    status: 'aborted',
  }));
}

/** A legacy session sdgen reconstructed: version 2.0-inferred with a confidence, old folder name, no seed in the names. */
async function inferredSession(root: string): Promise<void> {
  const dir = join(root, '2025-10-01_120000_legacy');
  const images = [];
  for (const idx of [0, 1]) {
    const prompt = `legacy, bright red hair, smiling`;
    const filename = `legacy_${String(idx).padStart(4, '0')}.png`;
    write(join(dir, filename), await a1111Png({ prompt, seed: 7000 + idx, colour: next() }));
    images.push({ filename, seed: 7000 + idx, prompt, negative_prompt: '', applied_variations: { HairColor: 'bright red hair', Expression: 'smiling' } });
  }
  write(join(dir, 'manifest.json'), json({
    snapshot: {
      version: '2.0-inferred', timestamp: '2025-10-01T12:00:00',
      inference_info: { source: 'png metadata and folder name', confidence: 'medium', errors: [] },
      runtime_info: { sd_model_checkpoint: 'unknown' },
      generation_params: { num_images: 2 },
      variations: { HairColor: { available: ['bright red hair'], used: ['bright red hair'] }, Expression: { available: ['smiling'], used: ['smiling'] } },
    },
    images,
  }));
}

/** October 2025 `<session>_manifest.json`: 4 planned prompts written up front (random seeds: -1), 3 images made. */
async function octoberSession(root: string): Promise<void> {
  const dir = join(root, '20251020_093000-october');
  const planned = ['blonde hair', 'black hair', 'bright red hair', 'blonde hair'].map((hair, index) => ({
    index, prompt: `october, ${hair}`, negative_prompt: 'lowres', seed: -1, variations: { HairColor: hair }, parameters: { steps: 20, width: 64, height: 96 },
  }));
  write(join(dir, 'october_manifest.json'), json({
    session_name: 'october', template_source: 'prompts/october.prompt.yaml', generated_at: '2025-10-20T09:30:00',
    total_variations: 4, templating_system: 'v2.0', variations: planned,
  }));
  for (const idx of [0, 1, 2]) write(join(dir, `october_${String(idx).padStart(4, '0')}.png`), await a1111Png({ prompt: planned[idx]!.prompt, seed: 555 + idx, colour: next() }));
}

/** V1 metadata.json with its "... and N more" cut lists; images named NNN_Key-value.png. */
async function v1Session(root: string): Promise<void> {
  const dir = join(root, '2025-06-01_080000_oldstyle');
  write(join(dir, 'metadata.json'), json({
    version: '1.0',
    generation_info: { date: '2025-06-01T08:00:00', timestamp: 1748764800, session_name: 'oldstyle' },
    prompt: { template: 'old, {Hair}', negative: 'lowres', example_resolved: 'old, blonde hair' },
    variations: { Hair: { count: 12, values: ['blonde hair', 'black hair', '... and 10 more'] } },
    generation: { mode: 'combinatorial', seed_mode: 'fixed', seed: 42, total_combinations: 2, images_generated: 2 },
    parameters: { width: 64, height: 96, steps: 20 },
    output: { folder: '/sd/results/2025-06-01_080000_oldstyle', filename_keys: ['Hair'] },
  }));
  write(join(dir, '001_Hair-blonde-hair.png'), await a1111Png({ prompt: 'old, blonde hair', seed: 42, colour: next() }));
  write(join(dir, '002_Hair-black-hair.png'), await a1111Png({ prompt: 'old, black hair', seed: 42, colour: next() }));
}

/** A session made with output.annotations on: the values are drawn into the pixels. */
async function annotatedSession(root: string): Promise<void> {
  const dir = join(root, '20251201_100000-labelled');
  const prompt = 'labelled, blonde hair, happy';
  write(join(dir, 'labelled_0000_seed-1.png'), await a1111Png({ prompt, seed: 1, colour: next() }));
  write(join(dir, 'manifest.json'), json({
    snapshot: {
      version: '2.0', runtime_info: { sd_model_checkpoint: 'dreamshaper_8.safetensors [879db523c3]' },
      generation_params: { num_images: 1 }, output: { annotations: { enabled: true, position: 'bottom-left' } },
      variations: { HairColor: { available: ['blonde hair'], used: ['blonde hair'] } },
    },
    images: [{ filename: 'labelled_0000_seed-1.png', seed: 1, prompt, negative_prompt: '', applied_variations: { HairColor: 'blonde hair', Expression: 'happy' } }],
    status: 'completed',
  }));
}

/** A1111's own output folder: no manifest, a truncated PNG, one with its text after the pixels, and a copy of an image found elsewhere too. */
async function plainFolder(root: string): Promise<Buffer> {
  const dir = join(root, 'txt2img-images', '2025-11-20');
  const shared = await a1111Png({ prompt: 'masterpiece, blonde hair, happy', seed: 1234, model: ['juggernaut', 'abcdef0123'], colour: next() });
  write(join(dir, '00001-1234.png'), shared);
  write(join(dir, '00002-1235.png'), await a1111Png({ prompt: 'masterpiece, gloomy, a red car', seed: 1235, colour: next() }));
  write(join(dir, '00003-1236.png'), shared.subarray(0, shared.length - 30));
  write(join(dir, '00004-1237.png'), textAfterPixels(await a1111Png({ prompt: 'masterpiece, black hair', seed: 1237, colour: next() })));
  return shared;
}

/** A session whose manifest is not JSON: its PNG still imports from its own metadata. */
async function brokenManifestSession(root: string, shared: Buffer): Promise<void> {
  const dir = join(root, '20251115_120000-broken');
  write(join(dir, 'manifest.json'), '{"snapshot": {"version": "2.0", ');
  write(join(dir, 'broken_0000_seed-9.png'), await a1111Png({ prompt: 'broken, black hair', seed: 9, colour: next() }));
  write(join(dir, 'copy_of_00001.png'), shared);
}

export interface History {
  /** the user's results folder */
  root: string;
  /** a folder holding the variation files */
  variations: string;
}

export async function buildHistory(base = mkdtempSync(join(tmpdir(), 'sdloop-history-'))): Promise<History> {
  const root = join(base, 'results');
  const variations = join(base, 'variations');
  for (const [name, text] of Object.entries(variationFiles)) write(join(variations, name), text);
  await v2Session(root);
  await inferredSession(root);
  await octoberSession(root);
  await v1Session(root);
  await annotatedSession(root);
  await brokenManifestSession(root, await plainFolder(root));
  return { root, variations };
}

/** A picture with texture and light: a gradient under per-pixel noise, each channel 60 to 220. */
export async function texturedPng(width: number, height: number, seed: number): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const noise = ((i + seed * 7919) * 2654435761) >>> 27;
      raw[i] = 60 + ((x * 160) / width + noise) % 160;
      raw[i + 1] = 60 + ((y * 160) / height + noise * 2) % 160;
      raw[i + 2] = 60 + ((seed * 40 + noise * 3) % 160);
    }
  }
  return sharp(raw, { raw: { width, height, channels: 3 } }).png().toBuffer();
}

export interface AnnotationStyle {
  position?: 'top-left' | 'top-right' | 'bottom-left' | 'bottom-right';
  margin?: number;
  padding?: number;
  fontSize?: number;
}

/**
 * The image after sdgen's annotator: `Key: value` lines in white on a black box at
 * 180/255 opacity, `margin` from the corner, `padding` around the text (its defaults:
 * bottom-left, 20, 10, 16), saved back as RGBA with no text chunks, as Pillow saves it.
 */
export async function sdgenAnnotated(png: Buffer, lines: string[], style: AnnotationStyle = {}): Promise<Buffer> {
  const { position = 'bottom-left', margin = 20, padding = 10, fontSize = 16 } = style;
  const { width, height } = await sharp(png).metadata();
  const lineHeight = Math.round(fontSize * 1.2);
  const boxW = Math.round(Math.max(...lines.map((l) => l.length)) * fontSize * 0.6) + 2 * padding;
  const boxH = lines.length * lineHeight + 2 * padding;
  const x = position.endsWith('left') ? margin : width - boxW - margin;
  const y = position.startsWith('top') ? margin : height - boxH - margin;
  const text = lines.map((l, i) => `<text x="${x + padding}" y="${y + padding + (i + 1) * lineHeight - 4}" font-family="DejaVu Sans, sans-serif" font-size="${fontSize}" fill="white">${l}</text>`).join('');
  const svg = `<svg width="${width}" height="${height}" xmlns="http://www.w3.org/2000/svg"><rect x="${x}" y="${y}" width="${boxW}" height="${boxH}" fill="black" fill-opacity="${180 / 255}"/>${text}</svg>`;
  return sharp(png).composite([{ input: Buffer.from(svg) }]).ensureAlpha().png().toBuffer();
}
