// Worker thread of probe-pool.ts: the shared embedding matrix arrives once as
// workerData, then one probe job per message; weights go back without a copy.
import { parentPort, workerData } from 'node:worker_threads';
import { runJob, type ProbeJob } from './probe-pool.js';
import type { Matrix } from './logistic.js';

const X = workerData as Matrix;

parentPort!.on('message', (job: ProbeJob) => {
  try {
    const result = runJob(X, job);
    parentPort!.postMessage({ result }, [result.weights.buffer as ArrayBuffer, result.bias.buffer as ArrayBuffer]);
  } catch (error) {
    parentPort!.postMessage({ error: (error as Error).message });
  }
});
