// One interface over the image backends: `synthetic` (built in, DEMO) and `a1111` (a
// pool of Automatic1111-compatible servers). generate renders planned prompts with it;
// benchmark renders its fixed-seed prompts with and without a LoRA through the same code.
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { operational } from '../../src/stage.js';
import type { AxisAlternativesRow, PromptRow } from '../../schemas/tables.js';
import {
  A1111Error, checkServer, lorasInPrompt, parseLoraSpec, txt2img, txt2imgPayload, withLoras, type LoraRef, type Txt2imgResult,
} from '../../adapters/a1111.js';
import { createEndpointPool, PoolTaskError } from '../../adapters/endpoint-pool.js';
import { checkpointFamily, familyFromName, familySize, type FamilyGuess } from '../../adapters/a1111-family.js';
import { serverNames, unknownName } from '../../adapters/a1111-lists.js';
import { InputError } from '../../src/errors.js';
import { formatParameters, parseParameters, writePngText } from '../../adapters/png-text.js';
import { renderSynthetic, SYNTHETIC_MODEL, SYNTHETIC_MODEL_HASH } from '../../demo/synthetic.js';
import { loadSyntheticCheckpoint, loraLoader } from '../../demo/synthetic-lora.js';

// Operational params decide how images are fetched, never which: changing them re-renders nothing.
export const generateParams = z.object({
  backend: z.enum(['synthetic', 'a1111']).default('synthetic'),
  endpoints: operational(z.array(z.string().url()).min(1).default(['http://127.0.0.1:7860'])),
  concurrency: operational(z.number().int().min(1).default(2).describe('requests in flight per endpoint')),
  retries: operational(z.number().int().min(0).default(3)),
  timeout_s: operational(z.number().positive().default(600).describe('per request, body included; a timeout is retried like a 5xx')),
  max_response_mb: operational(z.number().positive().default(64).describe('a txt2img answer larger than this is refused while it streams in')),
  max_image_megapixels: operational(z.number().positive().default(64).describe('an image larger than this (its real size, from the PNG) is refused')),
  model: z.string().nullable().default(null).describe('checkpoint (title, name or hash) to pin'),
  family: z.enum(['auto', 'sd15', 'sdxl']).default('auto')
    .describe('a1111: sets the size of prompts that give none (sdxl 1024x1024, sd15 512x512); auto tells it from the checkpoint'),
  loras: z.array(z.string()).default([]).describe("added to every prompt: 'name:0.8' or '<lora:name:0.8>'"),
  theme_loras: z.record(z.string(), z.array(z.string())).default({})
    .describe("added to the prompts of one theme only: {cyberpunk: ['neon:0.7']}"),
  lora_dirs: z.array(z.string()).default(['data/models/lora']).describe('synthetic: where NAME.safetensors is looked for'),
  checkpoint_dirs: z.array(z.string()).default(['data/models/checkpoints'])
    .describe('synthetic: where generate.model NAME.safetensors (a checkpoint the loop merged) is looked for'),
  failure_rate: z.number().min(0).max(1).default(0.3).describe('synthetic (demo): chance per axis that another value is drawn'),
  value_failure_rates: z.record(z.string(), z.number().min(0).max(1)).default({}).describe("synthetic: overrides keyed 'Axis:Key' or 'Key'"),
  blank_rate: z.number().min(0).max(1).default(0.03).describe('synthetic (demo): chance of an all-black image'),
  sessions_dir: z.string().default('data/sessions'),
  backoff_ms: operational(z.number().min(0).default(1000).describe('first retry delay; doubles per attempt')),
});
export type GenerateParams = z.infer<typeof generateParams>;

export interface RenderResult {
  /** null when nothing came back */
  png: Buffer | null;
  seed: number;
  width: number;
  height: number;
  endpoint: string;
  modelName: string;
  modelHash: string;
  loras: string[];
  status: 'ok' | 'failed' | 'blank';
  error: string | null;
  /** synthetic only: axis -> the key actually drawn */
  rendered: Record<string, string> | null;
  genMs: number;
  /** the other images of the request's batch (a prompt file's batch_size x n_iter), in order, each with its own seed */
  rest: RenderResult[];
}

export interface Backend {
  name: 'synthetic' | 'a1111';
  /** what the session manifest's runtime_info records */
  checkpoint: string;
  render(row: PromptRow): Promise<RenderResult>;
  close(): Promise<void>;
}

const loraText = (l: LoraRef) => `${l.name}:${l.weight}`;

/** Per prompt row, the LoRAs its request carries: generate.loras, then its theme's theme_loras. */
export function lorasForRows(params: Pick<GenerateParams, 'loras' | 'theme_loras'>): (row: Pick<PromptRow, 'theme'>) => LoraRef[] {
  const all = params.loras.map(parseLoraSpec);
  const byTheme = new Map(Object.entries(params.theme_loras).map(([theme, specs]) => [theme, [...all, ...specs.map(parseLoraSpec)]]));
  return (row) => (row.theme !== null && byTheme.get(row.theme)) || all;
}

/** An image that is one colour (black included) carries nothing: VAE NaNs, a censor, a demo blank. */
export async function isUniformImage(png: Buffer): Promise<boolean> {
  const { default: sharp } = await import('sharp');
  // Decoding runs on libuv's pool; the scan stops at the first pixel that differs, which
  // for any real picture is within the first row.
  const data = await sharp(png).removeAlpha().raw().toBuffer();
  for (let i = 3; i < data.length; i++) if (Math.abs(data[i]! - data[i % 3]!) > 2) return false;
  return true;
}

const inProject = (dirs: string[], projectDir: string) => dirs.map((d) => (isAbsolute(d) ? d : resolve(projectDir, d)));

async function createSynthetic(params: GenerateParams, projectDir: string, alternatives: AlternativesLookup): Promise<Backend> {
  const lora = loraLoader(inProject(params.lora_dirs, projectDir));
  // A pinned checkpoint is a simulated merge: the LoRAs folded into it apply to every render.
  const checkpoint = params.model ? await loadSyntheticCheckpoint(params.model, inProject(params.checkpoint_dirs, projectDir)) : null;
  const model = checkpoint ? { modelName: checkpoint.name, modelHash: checkpoint.shortHash } : { modelName: SYNTHETIC_MODEL, modelHash: SYNTHETIC_MODEL_HASH };
  const extra = lorasForRows(params);
  const named = [...params.loras, ...Object.values(params.theme_loras).flat()].map(parseLoraSpec);
  await Promise.all(named.map((l) => lora(l.name)));
  return {
    name: 'synthetic',
    checkpoint: `${model.modelName} [${model.modelHash}]`,
    async render(row) {
      const started = performance.now();
      const prompted = { ...row, api_prompt: withLoras(row.api_prompt, extra(row)) };
      const base = { endpoint: 'synthetic', ...model };
      try {
        const r = await renderSynthetic(prompted, {
          failureRate: params.failure_rate, valueFailureRates: params.value_failure_rates, blankRate: params.blank_rate, lora, alternatives, checkpoint,
        });
        const status = r.blank ? 'blank' : 'ok';
        return { ...base, png: r.png, seed: r.seed, width: r.width, height: r.height, loras: r.loras.map(loraText), status, error: null, rendered: r.rendered, genMs: performance.now() - started, rest: [] };
      } catch (error) {
        const loras = lorasInPrompt(prompted.api_prompt).map(loraText);
        return { ...base, png: null, seed: row.seed, width: 0, height: 0, loras, status: 'failed', error: (error as Error).message, rendered: null, genMs: performance.now() - started, rest: [] };
      }
    },
    async close() {},
  };
}

/** The PNG's `parameters`: the server's own infotext, with the model added when it lacks one. */
function tagModel(payload: Record<string, unknown>, image: Txt2imgResult): Buffer {
  const { png, infotext, seed, modelName, modelHash } = image;
  const parsed = infotext ? parseParameters(infotext) : null;
  const settings = parsed?.settings ?? {
    Steps: String(payload.steps), Sampler: String(payload.sampler_name ?? 'Euler a'), 'CFG scale': String(payload.cfg_scale),
    Seed: String(seed), Size: `${image.width}x${image.height}`,
  };
  if (parsed && settings['Model'] && settings['Model hash']) return writePngText(png, { parameters: infotext! });
  const tagged = { ...settings, 'Model hash': settings['Model hash'] || modelHash, Model: settings['Model'] || modelName };
  const text = formatParameters({ prompt: parsed?.prompt ?? String(payload.prompt), negativePrompt: parsed?.negativePrompt ?? String(payload.negative_prompt ?? ''), settings: tagged });
  return writePngText(png, { parameters: text });
}

/**
 * The checkpoint family whose native size a request gets when its prompt file sets none:
 * generate.family, or told from the pinned or loaded checkpoint on the first server that answers.
 */
export async function renderFamily(params: GenerateParams): Promise<FamilyGuess> {
  if (params.family !== 'auto') return { family: params.family, how: 'generate.family' };
  const reasons: string[] = [];
  for (const endpoint of params.endpoints) {
    try {
      return await checkpointFamily(endpoint, params.model);
    } catch (error) {
      reasons.push((error as Error).message);
    }
  }
  // A pinned checkpoint still has a name to go by while every server is down (status on a laptop).
  if (params.model) return { family: familyFromName(params.model), how: 'the name in generate.model (no server answered)' };
  throw new A1111Error(`cannot tell the checkpoint's family (set generate.family to sd15 or sdxl): ${reasons.join('; ')}`, 'connection', params.endpoints[0]!);
}

async function createA1111(params: GenerateParams, warn: (m: string) => void): Promise<Backend> {
  const checks = await Promise.allSettled(params.endpoints.map((e) => checkServer(e, params.model)));
  const up = checks.flatMap((c) => (c.status === 'fulfilled' ? [c.value] : []));
  const reasons = checks.flatMap((c) => (c.status === 'rejected' ? [(c.reason as Error).message] : []));
  const modelMissing = checks.find((c) => c.status === 'rejected' && (c.reason as A1111Error).kind === 'request');
  if (modelMissing) throw (modelMissing as PromiseRejectedResult).reason;
  if (!up.length) throw new Error(`no A1111 endpoint is reachable:\n${reasons.join('\n')}`);
  for (const r of reasons) warn(`${r}; it is kept in the pool and retried later`);
  const known = await serverNames(up[0]!.endpoint);
  const limits = { timeoutMs: params.timeout_s * 1000, maxBytes: params.max_response_mb * 1024 * 1024, maxPixels: params.max_image_megapixels * 1e6 };
  const loras = lorasForRows(params);
  const defaultSize = familySize[(await renderFamily(params)).family];
  const pool = createEndpointPool({
    endpoints: params.endpoints,
    concurrency: params.concurrency,
    retries: params.retries,
    backoffMs: params.backoff_ms,
    cooldownMs: params.backoff_ms * 2,
    isRetryable: (e) => e instanceof A1111Error && e.retryable,
    isEndpointFault: (e) => e instanceof A1111Error && (e.kind === 'connection' || e.kind === 'timeout'),
  });
  return {
    name: 'a1111',
    checkpoint: up[0]!.checkpoint,
    async render(row) {
      const started = performance.now();
      const payload = txt2imgPayload(row, { model: params.model, loras: loras(row), defaultSize });
      // A name the server lacks fails every image the same way: stop before sending any.
      const refused = unknownName(payload, known, up[0]!.endpoint);
      if (refused) throw new InputError(refused, { file: row.source, field: 'parameters' });
      const used = lorasInPrompt(String(payload.prompt)).map(loraText);
      try {
        const { value: images, endpoint } = await pool.run((ep) => txt2img(ep, payload, limits));
        // The request's time is shared by the images of its batch.
        const genMs = (performance.now() - started) / images.length;
        const [first, ...rest] = await Promise.all(images.map(async (image): Promise<RenderResult> => {
          const png = tagModel(payload, image);
          const status = (await isUniformImage(png)) ? 'blank' : 'ok';
          const error = status === 'blank' ? 'uniform image (all one colour)' : null;
          return { png, seed: image.seed, width: image.width, height: image.height, endpoint, modelName: image.modelName, modelHash: image.modelHash, loras: used, status, error, rendered: null, genMs, rest: [] };
        }));
        return { ...first!, rest };
      } catch (error) {
        const endpoint = error instanceof PoolTaskError ? error.endpoint : '';
        return { png: null, seed: row.seed, width: Number(payload.width), height: Number(payload.height), endpoint, modelName: '', modelHash: '', loras: used, status: 'failed', error: (error as Error).message, rendered: null, genMs: performance.now() - started, rest: [] };
      }
    },
    async close() {
      pool.close();
    },
  };
}

/** The backend generate.backend names, checked and ready (servers reached, LoRAs found). */
/** An axis' values by the id a prompt row's variation names (table axes); the demo renderer draws its failures among them. */
export type AlternativesLookup = (id: string) => AxisAlternativesRow | undefined;

export async function createBackend(params: GenerateParams, opts: { projectDir: string; warn?: (m: string) => void; alternatives?: AlternativesLookup }): Promise<Backend> {
  if (params.backend === 'a1111') return createA1111(params, opts.warn ?? (() => {}));
  return createSynthetic(params, opts.projectDir, opts.alternatives ?? (() => undefined));
}
