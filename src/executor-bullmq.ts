// The coordinator's side of distributed map stages: each batch becomes a BullMQ job on
// the stage's queue, a `pipeline worker` somewhere runs it, and the rows come back here,
// where the map executor validates and commits them as it does local ones: this process
// stays the only writer of the state. Jobs are polled rather than awaited on events, so
// a Redis that restarts (and forgets its jobs) is noticed and the lost batches are queued
// again; at-least-once is safe, results are memoised by item hash.
import type { Queue } from 'bullmq';
import { StageFailure } from './errors.js';
import { hashValue } from './hash.js';
import { encodeRows } from './arrow-rows.js';
import { decodeResults, maskRedisUrl, redisConnection, type BatchJob, type BatchOutcome, type StageCheck } from './batch-jobs.js';
import type { ItemResult, Row } from './stage.js';
import type { OutputRecord } from './lockfile.js';
import type { BullmqExecutorConfig } from '../schemas/pipeline.js';
import type { StageIdentity } from './fingerprint.js';

/** Batches computed elsewhere; the map executor still validates and commits their rows. */
export interface RemoteBatches {
  /** batches queued or running at once */
  inFlight: number;
  /** The items' results; undefined when the batch was withdrawn before a worker took it (the run was interrupted). */
  mapBatch(items: Row[]): Promise<ItemResult[] | undefined>;
  close(): Promise<void>;
}

const pollMs = 100;
/** one Redis call that takes longer than this counts as Redis not answering */
const callTimeoutMs = 5000;

export function stageCheckOf(identity: Pick<StageIdentity, 'code' | 'params' | 'resources'>): StageCheck {
  return { code: identity.code, params: hashValue(identity.params), resources: hashValue(identity.resources) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer in ${ms / 1000} s`)), ms)));
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

interface WorkerTally {
  batches: number;
  items: number;
  first: number;
  last: number;
}

/** Per worker: batches done and their rate, for the log. */
export function describeWorkers(tallies: Map<string, WorkerTally>): string {
  return [...tallies].map(([name, t]) => {
    const seconds = Math.max(0.001, (t.last - t.first) / 1000);
    const rate = t.batches > 1 ? `, ${((t.batches - 1) / seconds).toFixed(1)} batches/s` : '';
    return `${name}: ${t.batches} batches (${t.items} items${rate})`;
  }).join('; ');
}

export async function openRemoteBatches(options: {
  config: BullmqExecutorConfig;
  stage: string;
  runId: string;
  check: StageCheck;
  inputs: Record<string, OutputRecord>;
  signal: AbortSignal;
  log(message: string): void;
}): Promise<RemoteBatches> {
  const { config, stage, signal, log } = options;
  const where = maskRedisUrl(config.redis);
  // Loaded only for a distributed stage: local runs never pay for it.
  const { Queue } = await import('bullmq');
  const queue: Queue = new Queue(stage, { connection: redisConnection(config.redis), prefix: config.queue_prefix });
  let lastError = '';
  let unreachableSince: number | undefined;
  const unreachable = (reason: string) => {
    if (unreachableSince !== undefined) return;
    unreachableSince = Date.now();
    log(`Redis at ${where} does not answer (${reason}); waiting up to ${config.redis_timeout_s} s`);
  };
  queue.on('error', (error: Error) => {
    lastError = error.message;
    unreachable(error.message);
  });
  const tag = options.runId.replace(/[^A-Za-z0-9]/g, '');
  let sequence = 0;
  const tallies = new Map<string, WorkerTally>();

  /** A Redis call, retried while Redis is away, up to redis_timeout_s. */
  async function redis<T>(what: string, call: () => Promise<T>): Promise<T> {
    for (;;) {
      try {
        const value = await withTimeout(call(), callTimeoutMs);
        if (unreachableSince !== undefined) log(`Redis at ${where} answers again; resuming`);
        unreachableSince = undefined;
        return value;
      } catch (error) {
        const reason = lastError || (error as Error).message;
        unreachable(reason);
        if (Date.now() - unreachableSince! > config.redis_timeout_s * 1000) {
          throw new StageFailure(stage, `Redis at ${where} did not answer for ${config.redis_timeout_s} s while ${what} (${reason}); the batches committed so far are kept`);
        }
        await sleep(500);
      }
    }
  }

  /** Take a batch back if no worker has started it. */
  async function withdraw(id: string): Promise<boolean> {
    const job = await redis('withdrawing a batch', () => queue.getJob(id));
    if (!job) return true;
    const state = await redis('withdrawing a batch', () => job.getState());
    if (!['waiting', 'delayed', 'prioritized', 'wait'].includes(state)) return false;
    return job.remove().then(() => true, () => false);
  }

  function tally(worker: string, items: number): void {
    const now = Date.now();
    const t = tallies.get(worker) ?? { batches: 0, items: 0, first: now, last: now };
    tallies.set(worker, { batches: t.batches + 1, items: t.items + items, first: t.first, last: now });
  }

  async function outcomeOf(batchId: string, job: BatchJob): Promise<BatchOutcome | { failed: string } | undefined> {
    // A batch queued again gets a new job id: a worker still busy with the forgotten job can never finish the new one.
    let queued = 0;
    let id = batchId;
    const add = () => {
      id = `${batchId}-${++queued}`;
      return redis('queueing a batch', () => queue.add(stage, job, { jobId: id, attempts: config.attempts, backoff: { type: 'fixed', delay: 200 } }));
    };
    await add();
    for (;;) {
      await sleep(pollMs);
      if (signal.aborted && (await withdraw(id))) return undefined;
      const found = await redis('waiting for a batch', () => queue.getJob(id));
      if (!found) {
        log(`batch ${batchId} is gone from Redis (restarted without persistence?); queueing it again`);
        await add();
        continue;
      }
      const state = await redis('waiting for a batch', () => found.getState());
      if (state !== 'completed' && state !== 'failed') continue;
      const outcome = found.returnvalue as BatchOutcome | null;
      // Read, then removed: a restarted coordinator never finds stale results under a new run's ids.
      await redis('removing a finished batch', () => found.remove());
      if (state === 'failed') return { failed: `failed ${found.attemptsMade} times on the workers: ${found.failedReason}` };
      if (outcome?.worker) return outcome;
      // Finished without an outcome: a job Redis lost mid-flight and a worker closed anyway.
      log(`batch ${batchId} came back without results; queueing it again`);
      await add();
    }
  }

  return {
    inFlight: config.in_flight,
    async mapBatch(items) {
      const outcome = await outcomeOf(`${tag}-${++sequence}`, { stage, check: options.check, inputs: options.inputs, items: encodeRows(items) });
      if (!outcome) return undefined;
      if ('failed' in outcome) return items.map(() => ({ rows: {}, error: outcome.failed }));
      if (outcome.refused) throw new StageFailure(stage, `worker ${outcome.worker} refuses: ${outcome.refused}`);
      if (outcome.stageFailure) throw new StageFailure(stage, `on worker ${outcome.worker}: ${outcome.stageFailure}`);
      tally(outcome.worker, items.length);
      return decodeResults(outcome, items.length);
    },
    async close() {
      if (tallies.size > 0) log(`workers: ${describeWorkers(tallies)}`);
      // An unreachable Redis must not hold the run open: drop the connection instead.
      await withTimeout(queue.close(), callTimeoutMs).catch(() => {
        void queue.disconnect().catch(() => undefined);
      });
    },
  };
}
