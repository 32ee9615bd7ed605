// The Automatic1111 WebUI HTTP API (also Forge and SD.Next, started with --api): the
// txt2img payload built from a planned prompt row, the call itself, the start-up checks
// (/sdapi/v1/options, /sdapi/v1/sd-models) and the reading of `info`, a JSON string, with
// each image measured from its PNG header. The requests themselves: a1111-http.ts.
import { readFileSync } from 'node:fs';
import type { PromptRow } from '../schemas/tables.js';
import { A1111Error, request, type RequestLimits } from './a1111-http.js';
import { pngSize } from './png-text.js';

export { A1111Error, type FailureKind, request, type RequestLimits } from './a1111-http.js';

export interface LoraRef {
  name: string;
  weight: number;
}

/** `name:0.8`, `<lora:name:0.8>` or `name` (weight 1). */
export function parseLoraSpec(spec: string): LoraRef {
  const inner = spec.trim().replace(/^<lora:/i, '').replace(/>$/, '');
  const cut = inner.lastIndexOf(':');
  const weight = cut > 0 ? Number(inner.slice(cut + 1)) : NaN;
  if (cut > 0 && Number.isFinite(weight)) return { name: inner.slice(0, cut), weight };
  return { name: inner, weight: 1 };
}

export function loraTag({ name, weight }: LoraRef): string {
  return `<lora:${name}:${weight}>`;
}

/** Every `<lora:NAME:W>` written in a prompt. */
export function lorasInPrompt(prompt: string): LoraRef[] {
  return [...prompt.matchAll(/<lora:([^:>]+)(?::([^:>]+))?(?::[^>]*)?>/gi)].map((m) => ({
    name: m[1]!,
    weight: m[2] === undefined || !Number.isFinite(Number(m[2])) ? 1 : Number(m[2]),
  }));
}

/** The prompt with the extra LoRAs appended, skipping ones the prompt already names. */
export function withLoras(prompt: string, loras: LoraRef[]): string {
  const present = new Set(lorasInPrompt(prompt).map((l) => l.name));
  const added = loras.filter((l) => !present.has(l.name)).map(loraTag);
  return [prompt, ...added].filter(Boolean).join(', ');
}

/** txt2img fields copied as they are when a prompt's `parameters` set them. */
const passThrough = [
  'steps', 'cfg_scale', 'width', 'height', 'batch_size', 'n_iter', 'restore_faces', 'tiling', 'subseed', 'subseed_strength',
  'seed_resize_from_h', 'seed_resize_from_w', 'denoising_strength', 'styles', 'eta', 's_churn', 's_noise',
  's_tmin', 's_tmax', 'refiner_checkpoint', 'refiner_switch_at',
] as const;
const hiresFields = ['hr_scale', 'hr_upscaler', 'hr_second_pass_steps', 'hr_resize_x', 'hr_resize_y', 'hr_sampler_name', 'hr_scheduler', 'hr_prompt', 'hr_negative_prompt'] as const;

/** A ControlNet image resolve names by file: sent as the base64 A1111 expects, without a data: prefix. */
function encodedImage(image: unknown): unknown {
  if (!image || typeof image !== 'object' || typeof (image as { file?: unknown }).file !== 'string') return image;
  return readFileSync((image as { file: string }).file).toString('base64');
}

/**
 * `alwayson_scripts` as resolve built it (ADetailer's positional args, ControlNet units),
 * with ControlNet images read and encoded only now, so plans and tables hold file names.
 */
function alwaysOnScripts(params: Record<string, unknown>): Record<string, unknown> | undefined {
  const scripts: Record<string, unknown> = { ...((params.alwayson_scripts as Record<string, unknown>) ?? {}) };
  const controlnet = scripts.controlnet as { args?: unknown[] } | undefined;
  if (Array.isArray(controlnet?.args)) {
    const args = controlnet.args.map((unit) => (unit && typeof unit === 'object' ? { ...unit, image: encodedImage((unit as { image?: unknown }).image) } : unit));
    scripts.controlnet = { ...controlnet, args };
  }
  return Object.keys(scripts).length ? scripts : undefined;
}

export interface PayloadOptions {
  /** checkpoint title, name or hash to pin with override_settings */
  model?: string | null;
  loras?: LoraRef[];
  /** width and height when the prompt file sets none: the checkpoint family's (a1111-family.ts); 512 */
  defaultSize?: number;
}

/** The POST /sdapi/v1/txt2img body for one planned prompt: one image, or the prompt file's batch_size x n_iter. */
export function txt2imgPayload(row: PromptRow, options: PayloadOptions = {}): Record<string, unknown> {
  const params = row.params;
  const payload: Record<string, unknown> = {
    prompt: withLoras(row.api_prompt, options.loras ?? []),
    negative_prompt: row.negative_prompt,
    seed: row.seed,
    steps: 20,
    cfg_scale: 7,
    width: options.defaultSize ?? 512,
    height: options.defaultSize ?? 512,
    batch_size: 1,
    n_iter: 1,
  };
  for (const key of passThrough) if (params[key] !== undefined) payload[key] = params[key];
  // sdgen's key is `sampler` (it ignores `sampler_name`); A1111's own key counts when it is absent.
  const sampler = params.sampler ?? params.sampler_name;
  if (sampler !== undefined) payload.sampler_name = sampler;
  if (params.scheduler !== undefined && params.scheduler !== null) payload.scheduler = params.scheduler;
  if (params.enable_hr) {
    payload.enable_hr = true;
    for (const key of hiresFields) if (params[key] !== undefined) payload[key] = params[key];
  }
  const scripts = alwaysOnScripts(params);
  if (scripts) payload.alwayson_scripts = scripts;
  const override: Record<string, unknown> = { ...((params.override_settings as Record<string, unknown>) ?? {}) };
  if (options.model) override.sd_model_checkpoint = options.model;
  if (Object.keys(override).length) {
    payload.override_settings = override;
    // Restoring would reload the previous checkpoint after every image: minutes each.
    payload.override_settings_restore_afterwards = !options.model;
  }
  payload.send_images = true;
  payload.save_images = false;
  return payload;
}

export interface Txt2imgResult {
  png: Buffer;
  /** read from the PNG's IHDR: what came back, not what was asked */
  width: number;
  height: number;
  seed: number;
  modelName: string;
  modelHash: string;
  /** the server's own PNG Info text for the image, when it sent one */
  infotext: string | null;
}

export interface SdModel {
  title: string;
  model_name: string;
  hash: string | null;
  sha256?: string | null;
  filename: string;
}

const post = (endpoint: string, path: string, body: unknown, limits: RequestLimits) =>
  request(endpoint, path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }, limits);

export interface Txt2imgLimits extends RequestLimits {
  /** the most pixels (width x height) an image may have; default 64 megapixels */
  maxPixels?: number;
}

export const defaultMaxImagePixels = 64_000_000;

/**
 * An image's real size, from its PNG header, measured before the base64 is decoded: a
 * server that renders far larger than asked (or lies) is refused before it costs memory.
 */
function measuredImage(endpoint: string, base64: string, index: number, maxPixels: number): { png: Buffer; width: number; height: number } {
  const data = base64.replace(/^data:image\/\w+;base64,/, '');
  let size: { width: number; height: number };
  try {
    size = pngSize(Buffer.from(data.slice(0, 32), 'base64'));
  } catch (error) {
    throw new A1111Error(`${endpoint}: txt2img image ${index} is not a PNG (${(error as Error).message}); set the WebUI's image format to png`, 'response', endpoint);
  }
  if (size.width * size.height > maxPixels) {
    const mp = (n: number) => `${Math.round(n / 1e5) / 10} megapixels`;
    throw new A1111Error(
      `${endpoint}: txt2img image ${index} is ${size.width}x${size.height} (${mp(size.width * size.height)}), over the ${mp(maxPixels)} limit (generate.max_image_megapixels)`,
      'response', endpoint,
    );
  }
  return { png: Buffer.from(data, 'base64'), ...size };
}

/**
 * Every image of a txt2img answer, in batch order, each with its real size, its own seed
 * (`all_seeds[k]`) and infotext. A batch of several comes with the grid first
 * (`index_of_first_image` 1) and extensions may append their own pictures (ControlNet's
 * detect maps) after it: only the batch_size x n_iter generated images are read.
 */
export function parseTxt2imgResponse(endpoint: string, body: unknown, maxPixels = defaultMaxImagePixels): Txt2imgResult[] {
  const response = body as { images?: unknown; info?: unknown };
  const images = Array.isArray(response.images) ? (response.images as unknown[]) : [];
  let info: Record<string, unknown> = {};
  try {
    info = typeof response.info === 'string' ? JSON.parse(response.info) : ((response.info as Record<string, unknown>) ?? {});
  } catch {
    throw new A1111Error(`${endpoint}: txt2img \`info\` is not JSON`, 'response', endpoint);
  }
  const seeds = Array.isArray(info.all_seeds) ? (info.all_seeds as number[]) : [];
  const infotexts = Array.isArray(info.infotexts) ? (info.infotexts as string[]) : [];
  const first = Number(info.index_of_first_image ?? 0) || 0;
  const count = Math.max(1, seeds.length);
  return Array.from({ length: count }, (_, k) => {
    const image = images[first + k];
    if (typeof image !== 'string') throw new A1111Error(`${endpoint}: txt2img response has no image ${first + k} (of ${images.length})`, 'response', endpoint);
    return {
      ...measuredImage(endpoint, image, first + k, maxPixels),
      seed: Number(seeds[k] ?? info.seed ?? -1),
      modelName: String(info.sd_model_name ?? ''),
      modelHash: String(info.sd_model_hash ?? ''),
      infotext: infotexts[first + k] ?? null,
    };
  });
}

export async function txt2img(endpoint: string, payload: Record<string, unknown>, limits: Txt2imgLimits): Promise<Txt2imgResult[]> {
  const body = await post(endpoint, '/sdapi/v1/txt2img', payload, limits);
  return parseTxt2imgResponse(endpoint, body, limits.maxPixels ?? defaultMaxImagePixels);
}

export interface ServerCheck {
  endpoint: string;
  /** the checkpoint the images will come from (title as the server lists it) */
  checkpoint: string;
  models: SdModel[];
}

function matchesModel(model: SdModel, wanted: string): boolean {
  const w = wanted.trim();
  return [model.title, model.model_name, model.hash, model.sha256, model.filename.split(/[\\/]/).pop()].some((v) => v && v === w);
}

/** Is the server up, and does it have the model to pin? A clear message when not. */
export async function checkServer(endpoint: string, model: string | null | undefined, timeoutMs = 10_000): Promise<ServerCheck> {
  let options: { sd_model_checkpoint?: string };
  let models: SdModel[];
  try {
    options = (await request(endpoint, '/sdapi/v1/options', {}, { timeoutMs })) as typeof options;
    models = (await request(endpoint, '/sdapi/v1/sd-models', {}, { timeoutMs })) as SdModel[];
  } catch (error) {
    const e = error as Error;
    throw new A1111Error(
      `A1111 server at ${endpoint} is not reachable (${e.message}); start the WebUI with --api, or fix generate.endpoints`,
      error instanceof A1111Error ? error.kind : 'connection',
      endpoint,
    );
  }
  if (!model) return { endpoint, checkpoint: options.sd_model_checkpoint ?? 'unknown', models };
  const found = models.find((m) => matchesModel(m, model));
  if (!found) {
    const known = models.map((m) => m.title).join(', ') || 'none';
    throw new A1111Error(`model ${JSON.stringify(model)} (generate.model) is not on ${endpoint}; it has: ${known}`, 'request', endpoint);
  }
  return { endpoint, checkpoint: found.title, models };
}

/** One entry of GET /sdapi/v1/loras: what the WebUI found in its LoRA folders at the last refresh. */
export interface ListedLora {
  name: string;
  alias?: string;
  path: string;
  /** the file's safetensors __metadata__ (sshs_model_hash among it); {} when it has none */
  metadata: Record<string, unknown>;
}

/** The LoRAs the WebUI knows; a file copied in since its last refresh is not among them. */
export async function listLoras(endpoint: string, timeoutMs = 10_000): Promise<ListedLora[]> {
  const body = await request(endpoint, '/sdapi/v1/loras', {}, { timeoutMs });
  if (!Array.isArray(body)) throw new A1111Error(`GET /sdapi/v1/loras on ${endpoint} answered ${JSON.stringify(body).slice(0, 80)}, not a list`, 'response', endpoint);
  return body.map((entry: Partial<ListedLora>) => ({ name: String(entry.name ?? ''), alias: entry.alias, path: String(entry.path ?? ''), metadata: entry.metadata ?? {} }));
}

/** POST /sdapi/v1/refresh-loras: rescan the LoRA folders (after copying a file in). */
export async function refreshLoras(endpoint: string, timeoutMs = 30_000): Promise<void> {
  await request(endpoint, '/sdapi/v1/refresh-loras', { method: 'POST' }, { timeoutMs });
}

/** POST /sdapi/v1/refresh-checkpoints: rescan the checkpoint folder (after copying a merged checkpoint in). */
export async function refreshCheckpoints(endpoint: string, timeoutMs = 30_000): Promise<void> {
  await request(endpoint, '/sdapi/v1/refresh-checkpoints', { method: 'POST' }, { timeoutMs });
}

/** The checkpoint loaded on the server, as `name.safetensors [hash]`: what unpinned images come from. */
export async function loadedCheckpoint(endpoint: string, timeoutMs = 10_000): Promise<string> {
  const options = (await request(endpoint, '/sdapi/v1/options', {}, { timeoutMs })) as { sd_model_checkpoint?: string };
  const title = options.sd_model_checkpoint ?? '';
  if (/\[[0-9a-f]+\]\s*$/i.test(title)) return title;
  // Some servers report the bare file name: its hash comes from the model list.
  const models = (await request(endpoint, '/sdapi/v1/sd-models', {}, { timeoutMs })) as SdModel[];
  const found = models.find((m) => matchesModel(m, title));
  const hash = found?.sha256 ?? found?.hash;
  return hash ? `${found!.title.replace(/\s*\[[^\]]*\]\s*$/, '')} [${hash}]` : title || 'unknown';
}

/**
 * What stands for a server-side LoRA's content, which the API does not serve: the hash of
 * the weights sd-scripts wrote into its metadata, else its path on the server with the
 * training time (a LoRA retrained under the same name gets a new one).
 */
export function serverLoraIdentity(lora: ListedLora): string | null {
  const meta = lora.metadata;
  for (const key of ['sshs_model_hash', 'sshs_legacy_hash']) {
    if (typeof meta[key] === 'string' && meta[key]) return `${key}:${meta[key] as string}`;
  }
  const trained = meta.ss_training_finished_at ?? meta.ss_training_started_at;
  if (lora.path) return trained ? `path:${lora.path}@${String(trained)}` : `path:${lora.path}`;
  return null;
}
