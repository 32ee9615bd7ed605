// Worker thread of preprocess-pool.ts: runs one task per message and hands
// the float tensors back without copying them.
import { parentPort } from 'node:worker_threads';
import { runTask, type Task } from './preprocess-pool.js';

parentPort!.on('message', async ({ id, task }: { id: number; task: Task }) => {
  try {
    const result = await runTask(task);
    const tensor = result instanceof Float32Array ? result : result.pixels;
    parentPort!.postMessage({ id, result }, [tensor.buffer as ArrayBuffer]);
  } catch (err) {
    parentPort!.postMessage({ id, error: (err as Error).message });
  }
});
