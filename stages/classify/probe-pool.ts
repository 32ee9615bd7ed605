// Trains one probe per variation axis, on worker threads when there are several axes
// and cores: the axes are independent and each takes seconds at 10^4 images. The
// embedding matrix is shared (SharedArrayBuffer), not copied per worker. Without the
// compiled worker script (tests run from TypeScript sources) the same code runs in-process.
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { trainProbe, type LambdaScore, type ProbeOptions } from './cross-validation.js';
import type { Matrix } from './logistic.js';

export interface ProbeJob {
  /** class index per row of X (-1: unlabelled) */
  y: Int32Array;
  train: Int32Array;
  classes: number;
  options: ProbeOptions;
}

export interface TrainedProbe {
  weights: Float64Array;
  bias: Float64Array;
  dim: number;
  classes: number;
  lambda: number;
  cv: LambdaScore[];
}

export function runJob(X: Matrix, job: ProbeJob): TrainedProbe {
  const { model, lambda, cv } = trainProbe(X, job.y, job.classes, job.train, job.options);
  return { weights: model.weights, bias: model.bias, dim: model.dim, classes: model.classes, lambda, cv };
}

function workerScript(): URL | null {
  const url = new URL('./probe-worker.js', import.meta.url);
  return existsSync(url) ? url : null;
}

/** Threads to use when the params say 0 (auto): one per core but one, at most one per job. */
export function threadsFor(requested: number, jobs: number): number {
  const wanted = requested > 0 ? requested : Math.max(1, availableParallelism() - 1);
  return Math.max(1, Math.min(wanted, jobs));
}

function shared(X: Matrix): Matrix {
  const data = new Float64Array(new SharedArrayBuffer(X.data.byteLength));
  data.set(X.data);
  return { data, rows: X.rows, cols: X.cols };
}

/** Results aligned with jobs; identical whichever thread ran a job. */
export async function trainProbes(X: Matrix, jobs: ProbeJob[], threads: number): Promise<TrainedProbe[]> {
  const script = workerScript();
  const count = threadsFor(threads, jobs.length);
  if (count <= 1 || !script) return jobs.map((job) => runJob(X, job));
  const matrix = shared(X);
  const results = new Array<TrainedProbe>(jobs.length);
  let next = 0;
  const drain = (worker: Worker) =>
    new Promise<void>((resolve, reject) => {
      const give = () => {
        if (next >= jobs.length) return resolve();
        const index = next++;
        worker.once('message', (msg: { result?: TrainedProbe; error?: string }) => {
          if (msg.error !== undefined) return reject(new Error(`probe training failed: ${msg.error}`));
          results[index] = msg.result!;
          give();
        });
        worker.postMessage(jobs[index]);
      };
      worker.once('error', reject);
      // after this drain resolved, an exit (our terminate) rejects nothing
      worker.once('exit', (code) => reject(new Error(`probe worker exited with code ${code}`)));
      give();
    });
  const workers = Array.from({ length: count }, () => new Worker(script, { workerData: matrix }));
  try {
    await Promise.all(workers.map(drain));
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return results;
}
