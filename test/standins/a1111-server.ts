// A local stand-in for the Automatic1111 WebUI API (--api), with the real request and
// response shapes (`info` is a JSON *string*), one job at a time like a real GPU, and
// the faults real servers show: refused connections while restarting, 500s with
// {error, detail}, requests that never answer, all-black images; and a hostile server's:
// a body that never ends, an image far larger than asked, a redirect elsewhere, a body
// that stalls half way.
// Other engineers' tests import startA1111StandIn too.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { deflateSync } from 'node:zlib';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeChunk } from '../../adapters/png-text.js';
import { readSafetensorsHeader } from '../../adapters/safetensors.js';
import { answeredHostile, giantPng } from './a1111-hostile.js';

/**
 * `huge`: a 200 answer whose body streams on (1.5 GB by default, no content-length) until
 * the client hangs up; `giant`: a real 16000x16000 PNG whatever was asked; `redirect`: a
 * 307 to `redirectTo`; `slowbody`: headers and half a JSON body, then silence.
 */
export type Fault = 'ok' | 'error500' | 'hang' | 'black' | 'reset' | 'huge' | 'giant' | 'redirect' | 'slowbody';

export interface StandInModel {
  title: string;
  model_name: string;
  hash: string;
  sha256: string;
  filename: string;
}

export interface StandInOptions {
  /** time one txt2img takes on the "GPU" */
  latencyMs?: number;
  /** run one txt2img at a time, queueing the rest, as A1111 does (default true) */
  serial?: boolean;
  models?: StandInModel[];
  /** which fault the n-th txt2img request (0-based, across the server's life) meets */
  fault?: (n: number, body: Record<string, unknown>) => Fault;
  imageSize?: number;
  port?: number;
  /** the ADetailer and ControlNet extensions' routes (default true) */
  extensions?: boolean;
  /**
   * the WebUI's models/Lora folder: GET /sdapi/v1/loras lists the .safetensors found there
   * at start and at each POST /sdapi/v1/refresh-loras, as A1111 does (a file copied in
   * between is not listed until the refresh); without one, `loras` or a fixed list (standInLists.loras)
   */
  loraDir?: string;
  /**
   * the WebUI's models/Stable-diffusion folder: GET /sdapi/v1/sd-models lists `models` and
   * the .safetensors found there at start and at each POST /sdapi/v1/refresh-checkpoints
   */
  checkpointDir?: string;
  /** what GET /sdapi/v1/loras lists when there is no loraDir (models/Lora on the server) */
  loras?: StandInLora[];
  /** where a `redirect` fault sends the client (a URL; the path is kept) */
  redirectTo?: string;
  /** how long a `huge` body would run if the client never hung up (default 1.5 GB) */
  hugeBytes?: number;
  /** draws the pictures of a txt2img that meets no fault (one PNG per seed), in place of the solid squares */
  render?: (body: Record<string, unknown>, model: StandInModel, seeds: number[]) => Promise<Buffer[]>;
}

export interface StandInLora {
  name: string;
  alias: string;
  path: string;
  metadata: Record<string, string>;
}

export interface RecordedRequest {
  method: string;
  path: string;
  body: Record<string, unknown> | null;
}

export interface A1111StandIn {
  url: string;
  requests: RecordedRequest[];
  /** the txt2img bodies only, in arrival order */
  txt2img(): Record<string, unknown>[];
  /** body bytes written for `huge` faults so far: how much a client took before hanging up */
  hugeBytesSent(): number;
  /** load another checkpoint (by title, name or hash), as the WebUI's dropdown does; throws for an unknown one */
  load(model: string): void;
  /** the checkpoint loaded now (its title) */
  loaded(): string;
  /** replace what GET /sdapi/v1/loras lists */
  setLoras(loras: StandInLora[]): void;
  /** stop listening (connections are refused) until up() */
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

/** What A1111 lists for a LoRA folder: name (file stem), alias (ss_output_name), path, metadata. */
async function scanLoras(dir: string | undefined): Promise<Record<string, unknown>[]> {
  if (!dir) return standInLists.loras;
  const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.safetensors')).sort();
  return Promise.all(files.map(async (file) => {
    const path = join(dir, file);
    const { metadata } = await readSafetensorsHeader(path);
    const name = file.slice(0, -'.safetensors'.length);
    return { name, alias: metadata.ss_output_name ?? name, path, metadata };
  }));
}

/** The checkpoints in the server's models/Stable-diffusion folder, named by file stem. */
async function scanCheckpoints(dir: string | undefined): Promise<StandInModel[]> {
  if (!dir) return [];
  const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.safetensors')).sort();
  return files.map((file) => ({ ...standInModel(file.slice(0, -'.safetensors'.length)), filename: join(dir, file) }));
}

export function standInModel(name: string): StandInModel {
  const sha256 = Buffer.from(name.padEnd(32, '#')).toString('hex').slice(0, 64);
  return { title: `${name}.safetensors [${sha256.slice(0, 10)}]`, model_name: name, hash: sha256.slice(0, 10), sha256, filename: `/models/Stable-diffusion/${name}.safetensors` };
}

/** A LoRA file in the server's models/Lora with sd-scripts' metadata (its weights' hash). */
export function standInLora(name: string, weightsHash: string): StandInLora {
  return { name, alias: name, path: `/models/Lora/${name}.safetensors`, metadata: { ss_output_name: name, sshs_model_hash: weightsHash } };
}

/** A small valid RGB PNG of one colour with a seed-dependent stripe (no sharp: this must be cheap). */
export function solidPng(size: number, rgb: [number, number, number], stripe = 0): Buffer {
  const row = Buffer.alloc(1 + size * 3);
  const raw = Buffer.alloc(row.length * size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const on = stripe > 0 && x === stripe % size;
      row[1 + x * 3] = on ? 255 - rgb[0] : rgb[0];
      row[2 + x * 3] = rgb[1];
      row[3 + x * 3] = rgb[2];
    }
    row.copy(raw, y * row.length);
  }
  const chunk = (type: string, data: Buffer) => encodeChunk({ type, data });
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([sig, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

/** What A1111 1.10 lists, with the ADetailer and ControlNet extensions installed. */
const samplerNames = ['DPM++ 2M', 'DPM++ SDE', 'DPM++ 2M SDE', 'DPM++ 2S a', 'DPM++ 3M SDE', 'Euler a', 'Euler', 'LMS', 'Heun', 'DPM2', 'DPM2 a', 'DDIM', 'PLMS', 'UniPC', 'LCM'];
export const standInLists = {
  samplers: samplerNames.map((name) => ({ name, aliases: [`k_${name.toLowerCase().replace(/\W+/g, '_')}`], options: {} })),
  schedulers: ['Automatic', 'Uniform', 'Karras', 'Exponential', 'Polyexponential', 'SGM Uniform'].map((label) => ({ name: label.toLowerCase().replace(' ', '_'), label, aliases: null, default_rho: -1, need_inner_model: false })),
  upscalers: ['None', 'Lanczos', 'Nearest', 'ESRGAN_4x', 'R-ESRGAN 4x+', 'R-ESRGAN 4x+ Anime6B', 'SwinIR 4x'].map((name) => ({ name, model_name: null, model_path: null, model_url: null, scale: 4 })),
  latentUpscaleModes: ['Latent', 'Latent (antialiased)', 'Latent (bicubic)', 'Latent (nearest)'].map((name) => ({ name })),
  loras: [{ name: 'bob', alias: 'bob', path: '/models/Lora/bob.safetensors', metadata: {} }],
  adetailer: { ad_model: ['face_yolov8n.pt', 'face_yolov8s.pt', 'hand_yolov8n.pt', 'person_yolov8n-seg.pt', 'mediapipe_face_full'] },
  controlnetModels: { model_list: ['control_v11p_sd15_canny [d14c016b]', 'control_v11p_sd15_openpose [cab727d4]'] },
  controlnetModules: { module_list: ['none', 'canny', 'depth_midas', 'openpose', 'lineart'] },
};

function readBody(req: IncomingMessage): Promise<Record<string, unknown> | null> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const text = Buffer.concat(parts).toString('utf8');
      try {
        resolve(text ? (JSON.parse(text) as Record<string, unknown>) : null);
      } catch (error) {
        reject(error);
      }
    });
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

export async function startA1111StandIn(options: StandInOptions = {}): Promise<A1111StandIn> {
  const latencyMs = options.latencyMs ?? 0;
  const serial = options.serial ?? true;
  const shipped = options.models ?? [standInModel('v1-5-pruned-emaonly'), standInModel('animefull')];
  let models = [...shipped, ...(await scanCheckpoints(options.checkpointDir))];
  const size = options.imageSize ?? 64;
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  let current = models[0]!;
  let txt2imgCount = 0;
  let hugeSent = 0;
  let loras: unknown[] = options.loras && !options.loraDir ? options.loras : await scanLoras(options.loraDir);
  let gpu: Promise<unknown> = Promise.resolve();

  const findModel = (name: unknown) =>
    models.find((m) => name === m.title || name === m.model_name || name === m.hash || name === `${m.model_name}.safetensors`);

  async function onGpu<T>(work: () => Promise<T>): Promise<T> {
    if (!serial) return work();
    const job = gpu.then(work, work);
    gpu = job.catch(() => undefined);
    return job;
  }

  async function txt2img(body: Record<string, unknown>, req: IncomingMessage, res: ServerResponse) {
    const n = txt2imgCount++;
    const fault = options.fault?.(n, body) ?? 'ok';
    if (fault === 'reset') return req.socket.destroy();
    if (fault === 'hang') return; // never answers; the client's timeout must fire
    if (answeredHostile(fault, req, res, { redirectTo: options.redirectTo, hugeBytes: options.hugeBytes, sent: (n) => (hugeSent += n) })) return;
    await onGpu(() => new Promise((r) => setTimeout(r, latencyMs)));
    if (fault === 'error500') {
      return sendJson(res, 500, { error: 'OutOfMemoryError', detail: 'CUDA out of memory. Tried to allocate 2.00 GiB', body: '', errors: '' });
    }
    const override = (body.override_settings ?? {}) as Record<string, unknown>;
    const model = findModel(override.sd_model_checkpoint) ?? current;
    const requested = Number(body.seed ?? -1);
    const seed = requested === -1 ? Math.floor(Math.random() * 4294967294) : requested;
    // A batch as A1111 returns it: batch_size x n_iter images with consecutive seeds, the grid first when there are several.
    const count = Number(body.batch_size ?? 1) * Number(body.n_iter ?? 1);
    const seeds = Array.from({ length: count }, (_, k) => seed + k);
    const pngs = fault === 'ok' && options.render ? await options.render(body, model, seeds) : await Promise.all(seeds.map(async (s) => fault === 'giant' ? giantPng()
      : fault === 'black' ? solidPng(size, [0, 0, 0]) : solidPng(size, [(s * 37) % 256, (s * 91) % 256, 128], s)));
    const grid = count > 1 ? [solidPng(size, [255, 255, 255], 1)] : [];
    const width = Number(body.width ?? 512);
    const height = Number(body.height ?? 512);
    const infotextOf = (s: number) => `${String(body.prompt ?? '')}\nNegative prompt: ${String(body.negative_prompt ?? '')}\nSteps: ${body.steps ?? 20}, Sampler: ${body.sampler_name ?? 'Euler a'}, CFG scale: ${body.cfg_scale ?? 7}, Seed: ${s}, Size: ${width}x${height}, Model hash: ${model.hash}, Model: ${model.model_name}, Version: v1.10.1`;
    const info = {
      prompt: body.prompt ?? '', all_prompts: seeds.map(() => body.prompt ?? ''), negative_prompt: body.negative_prompt ?? '',
      all_negative_prompts: seeds.map(() => body.negative_prompt ?? ''), seed, all_seeds: seeds, subseed: 1, all_subseeds: seeds.map(() => 1),
      subseed_strength: 0, width, height, sampler_name: body.sampler_name ?? 'Euler a', cfg_scale: body.cfg_scale ?? 7,
      steps: body.steps ?? 20, batch_size: Number(body.batch_size ?? 1), restore_faces: false, face_restoration_model: null,
      sd_model_name: model.model_name, sd_model_hash: model.hash, sd_vae_name: null, sd_vae_hash: null,
      seed_resize_from_w: -1, seed_resize_from_h: -1, denoising_strength: body.denoising_strength ?? 0,
      extra_generation_params: {}, index_of_first_image: grid.length, infotexts: [...grid.map(() => infotextOf(seed)), ...seeds.map(infotextOf)], styles: [],
      job_timestamp: '20250101120000', clip_skip: 1, is_using_inpainting_conditioning: false, version: 'v1.10.1',
    };
    const images = [...grid, ...pngs].map((png) => png.toString('base64'));
    sendJson(res, 200, { images, parameters: body, info: JSON.stringify(info) });
  }

  async function route(req: IncomingMessage, res: ServerResponse) {
    const path = (req.url ?? '/').split('?')[0]!;
    const body = await readBody(req);
    requests.push({ method: req.method ?? 'GET', path, body });
    const key = `${req.method} ${path}`;
    if (key === 'POST /sdapi/v1/txt2img') return txt2img(body ?? {}, req, res);
    if (key === 'GET /sdapi/v1/sd-models') return sendJson(res, 200, models);
    if (key === 'GET /sdapi/v1/options') return sendJson(res, 200, { sd_model_checkpoint: current.title, samples_format: 'png' });
    if (key === 'POST /sdapi/v1/options') {
      const wanted = findModel(body?.sd_model_checkpoint);
      if (body?.sd_model_checkpoint !== undefined && !wanted) return sendJson(res, 500, { error: 'RuntimeError', detail: 'model not found' });
      if (wanted) current = wanted;
      return sendJson(res, 200, null);
    }
    if (key === 'GET /sdapi/v1/progress') return sendJson(res, 200, { progress: 0, eta_relative: 0, state: {}, current_image: null, textinfo: null });
    if (key === 'POST /sdapi/v1/interrupt') return sendJson(res, 200, null);
    if (key === 'GET /sdapi/v1/loras') return sendJson(res, 200, loras);
    if (key === 'GET /sdapi/v1/samplers') return sendJson(res, 200, standInLists.samplers);
    if (key === 'GET /sdapi/v1/schedulers') return sendJson(res, 200, standInLists.schedulers);
    if (key === 'GET /sdapi/v1/upscalers') return sendJson(res, 200, standInLists.upscalers);
    if (key === 'GET /sdapi/v1/latent-upscale-modes') return sendJson(res, 200, standInLists.latentUpscaleModes);
    const extensions = options.extensions ?? true;
    if (extensions && key === 'GET /adetailer/v1/ad_model') return sendJson(res, 200, standInLists.adetailer);
    if (extensions && key === 'GET /controlnet/model_list') return sendJson(res, 200, standInLists.controlnetModels);
    if (extensions && key === 'GET /controlnet/module_list') return sendJson(res, 200, standInLists.controlnetModules);
    if (key === 'POST /sdapi/v1/refresh-checkpoints') {
      models = [...shipped, ...(await scanCheckpoints(options.checkpointDir))];
      return sendJson(res, 200, null);
    }
    if (key === 'POST /sdapi/v1/refresh-loras') {
      if (options.loraDir || !options.loras) loras = await scanLoras(options.loraDir);
      return sendJson(res, 200, null);
    }
    sendJson(res, 404, { detail: 'Not Found' });
  }

  let server: Server = createServer();
  const listen = (port: number) =>
    new Promise<void>((resolve) => {
      server = createServer((req, res) => void route(req, res).catch((e) => sendJson(res, 500, { error: 'StandIn', detail: String(e) })));
      server.keepAliveTimeout = 60_000;
      server.on('connection', (s) => {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
      });
      server.listen(port, '127.0.0.1', resolve);
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });

  await listen(options.port ?? 0);
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    txt2img: () => requests.filter((r) => r.path === '/sdapi/v1/txt2img').map((r) => r.body ?? {}),
    hugeBytesSent: () => hugeSent,
    load(model) {
      const wanted = findModel(model);
      if (!wanted) throw new Error(`the stand-in has no model ${model}`);
      current = wanted;
    },
    loaded: () => current.title,
    setLoras(list) {
      loras = list;
    },
    down: stop,
    up: () => listen(port),
    close: stop,
  };
}
