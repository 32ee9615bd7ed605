// Decoding, quality checks and CLIP preprocessing of images, run on worker threads so
// that they overlap ONNX inference (which holds the main thread while it runs). With
// zero workers the same functions run in-process.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import { decodeRgb, preprocessRgb, type Preprocess } from '../../adapters/clip-preprocess.js';
import { pixelChecks, type PixelChecks } from './quality.js';

/** A PNG as bytes or as a file path. */
export type ImageSource = Uint8Array | string;

export interface Prepared {
  checks: PixelChecks;
  width: number;
  height: number;
  /** the whole image preprocessed for the model */
  pixels: Float32Array;
}

export interface Task {
  kind: 'prepare' | 'crop';
  source: ImageSource;
  preprocess: Preprocess;
  box?: number[];
}

async function bytesOf(source: ImageSource): Promise<Uint8Array> {
  return typeof source === 'string' ? readFile(source) : source;
}

export async function prepareImage(source: ImageSource, preprocess: Preprocess): Promise<Prepared> {
  const rgb = await decodeRgb(await bytesOf(source));
  return { checks: pixelChecks(rgb), width: rgb.width, height: rgb.height, pixels: await preprocessRgb(rgb, preprocess) };
}

export async function prepareCrop(source: ImageSource, preprocess: Preprocess, box: number[]): Promise<Float32Array> {
  return preprocessRgb(await decodeRgb(await bytesOf(source)), preprocess, box);
}

export async function runTask(task: Task): Promise<Prepared | Float32Array> {
  return task.kind === 'prepare' ? prepareImage(task.source, task.preprocess) : prepareCrop(task.source, task.preprocess, task.box!);
}

export interface Preprocessor {
  prepare(source: ImageSource, preprocess: Preprocess): Promise<Prepared>;
  crop(source: ImageSource, preprocess: Preprocess, box: number[]): Promise<Float32Array>;
  /** how many worker threads do the work (0: in-process) */
  workers: number;
  close(): Promise<void>;
}

function inProcess(): Preprocessor {
  return {
    prepare: prepareImage,
    crop: prepareCrop,
    workers: 0,
    async close() {},
  };
}

/** The compiled worker script; absent when running from TypeScript sources (tests). */
export function workerScript(): URL | null {
  const url = new URL('./preprocess-worker.js', import.meta.url);
  return existsSync(url) ? url : null;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

export function createPreprocessor(count: number): Preprocessor {
  const script = workerScript();
  if (count <= 0 || !script) return inProcess();
  const pending = new Map<number, Pending>();
  const load = new Array<number>(count).fill(0);
  let nextId = 0;
  let broken: Error | null = null;
  const fail = (err: Error) => {
    broken ??= err;
    for (const job of pending.values()) job.reject(broken);
    pending.clear();
  };
  const workers = Array.from({ length: count }, (_, w) => {
    const worker = new Worker(script);
    worker.on('message', (msg: { id: number; result?: unknown; error?: string }) => {
      const job = pending.get(msg.id)!;
      pending.delete(msg.id);
      load[w]--;
      if (msg.error !== undefined) job.reject(new Error(msg.error));
      else job.resolve(msg.result);
    });
    // A dead worker fails what it held and everything after: no task waits forever.
    worker.on('error', (err: Error) => fail(err));
    worker.on('exit', (code) => fail(new Error(`preprocessing worker exited with code ${code}`)));
    return worker;
  });
  const submit = <T>(task: Task): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (broken) return reject(broken);
      const id = nextId++;
      const w = load.indexOf(Math.min(...load));
      load[w]++;
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      workers[w].postMessage({ id, task });
    });
  return {
    prepare: (source, preprocess) => submit<Prepared>({ kind: 'prepare', source, preprocess }),
    crop: (source, preprocess, box) => submit<Float32Array>({ kind: 'crop', source, preprocess, box }),
    workers: count,
    async close() {
      broken ??= new Error('the preprocessing pool is closed');
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}
