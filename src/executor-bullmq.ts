// The coordinator's side of distributed map stages: each batch becomes a BullMQ job on
// the stage's queue, a `pipeline worker` somewhere runs it, and the rows come back here,
// where the map executor validates and commits them as it does local ones: this process
// stays the only writer of the state. QueueEvents tells of finished and refused batches;
// each batch is also looked at every few seconds, so a Redis that restarts (and forgets
// its jobs) is noticed and the lost batches are queued again; at-least-once is safe,
// results are memoised by item hash.
import type { Queue, QueueEvents } from 'bullmq';
import { StageFailure } from './errors.js';
import { hashValue } from './hash.js';
import { encodeRows } from './arrow-rows.js';
import { decodeResults, isRefusal, maskRedisUrl, redisConnection, type BatchJob, type BatchOutcome, type StageCheck } from './batch-jobs.js';
import { RemoteWorkers } from './remote-workers.js';
import type { WorkerStat } from './run-progress.js';
import type { ItemResult, Row } from './stage.js';
import type { OutputRecord } from './lockfile.js';
import type { BullmqExecutorConfig, ExecutorConfig, PipelineConfig, StageConfig } from '../schemas/pipeline.js';
import type { StageIdentity } from './fingerprint.js';
import type { StageNode } from './graph.js';

/** Batches computed elsewhere; the map executor still validates and commits their rows. */
export interface RemoteBatches {
  /** batches queued or running at once */
  inFlight: number;
  /** The items' results; undefined when the batch was withdrawn before a worker took it (the run was interrupted). */
  mapBatch(items: Row[]): Promise<ItemResult[] | undefined>;
  close(): Promise<void>;
}

/** how often a batch nothing was heard of is looked at (a Redis restarted without it), and the workers connected are listed */
const recheckMs = 2000;
/** one Redis call that takes longer than this counts as Redis not answering */
const callTimeoutMs = 5000;

export function executorOf(config: Pick<PipelineConfig, 'executor'>, stage: Pick<StageConfig, 'executor'>): ExecutorConfig {
  return stage.executor ?? config.executor;
}

export function stageCheckOf(identity: Pick<StageIdentity, 'code' | 'params' | 'resources'>): StageCheck {
  return { code: identity.code, params: hashValue(identity.params), resources: hashValue(identity.resources) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer in ${ms / 1000} s`)), ms)));
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** The names `pipeline worker` gave its connections to the queue (worker.ts). */
async function connectedWorkers(queue: Queue): Promise<string[]> {
  const clients = await withTimeout(queue.getWorkers(), callTimeoutMs);
  const names = clients.map((c) => String(c.rawname ?? '')).filter((raw) => raw.includes(':w:')).map((raw) => decodeURIComponent(raw.slice(raw.lastIndexOf(':w:') + 3)));
  return [...new Set(names)];
}

/** Why a waiting batch was woken. */
type News = 'completed' | 'failed' | 'refused' | 'recheck' | 'stop';

export async function openRemoteBatches(options: {
  config: BullmqExecutorConfig;
  stage: string;
  runId: string;
  check: StageCheck;
  inputs: Record<string, OutputRecord>;
  signal: AbortSignal;
  log(message: string): void;
  workers(workers: WorkerStat[]): void;
}): Promise<RemoteBatches> {
  const { config, stage, signal, log } = options;
  const where = maskRedisUrl(config.redis);
  // Loaded only for a distributed stage: local runs never pay for it.
  const { Queue, QueueEvents } = await import('bullmq');
  const connection = { connection: redisConnection(config.redis), prefix: config.queue_prefix };
  const queue: Queue = new Queue(stage, connection);
  const events: QueueEvents = new QueueEvents(stage, connection);
  let lastError = '';
  let unreachableSince: number | undefined;
  const unreachable = (reason: string) => {
    if (unreachableSince !== undefined) return;
    unreachableSince = Date.now();
    log(`Redis at ${where} does not answer (${reason}); waiting up to ${config.redis_timeout_s} s`);
  };
  const onError = (error: Error) => {
    lastError = error.message;
    unreachable(error.message);
  };
  queue.on('error', onError);
  events.on('error', onError);
  const tag = options.runId.replace(/[^A-Za-z0-9]/g, '');
  let sequence = 0;
  const workers = new RemoteWorkers(options.workers);

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

  // Each waiting batch registers here to be woken by its job's events, or after recheckMs.
  const wakers = new Map<string, (news: News) => void>();
  const wake = (id: string, news: News) => wakers.get(id)?.(news);
  const wakeAll = (news: News) => [...wakers.values()].forEach((w) => w(news));
  function news(id: string): Promise<News> {
    return new Promise((resolve) => {
      const settle = (why: News) => {
        clearTimeout(timer);
        wakers.delete(id);
        resolve(why);
      };
      const timer = setTimeout(() => settle('recheck'), recheckMs).unref();
      wakers.set(id, settle);
    });
  }
  events.on('completed', ({ jobId }) => wake(jobId, 'completed'));
  events.on('failed', ({ jobId }) => wake(jobId, 'failed'));
  events.on('progress', ({ jobId, data }) => {
    if (!isRefusal(data)) return;
    if (workers.refused(data.worker, data.refused)) log(`worker ${data.worker} refuses this run's batches (${data.refused}); they are left to the other workers`);
    wake(jobId, 'refused');
    void judgeRefusals();
  });
  signal.addEventListener('abort', () => wakeAll('stop'), { once: true });

  /** Set once no worker will take the stage's batches: every waiting batch then gives up with it. */
  let givenUp: StageFailure | undefined;
  let listing = false;
  /** The workers connected now, for the progress lines and to tell whether any of them will take the refused batches. */
  async function judgeRefusals(): Promise<void> {
    if (listing || givenUp) return;
    listing = true;
    try {
      const connected = await connectedWorkers(queue);
      workers.connected(connected);
      const verdict = workers.verdict(connected, config.refusal_timeout_s);
      if (verdict) {
        givenUp = new StageFailure(stage, verdict);
        wakeAll('stop');
      }
    } catch {
      // Redis not answering: the batches' own calls wait for it and say so.
    } finally {
      listing = false;
    }
  }
  const lister = setInterval(() => void judgeRefusals(), recheckMs);
  void judgeRefusals();
  await redis('listening for finished batches', () => events.waitUntilReady());

  /** Take a batch back if no worker has started it. */
  async function withdraw(id: string): Promise<boolean> {
    const job = await redis('withdrawing a batch', () => queue.getJob(id));
    if (!job) return true;
    const state = await redis('withdrawing a batch', () => job.getState());
    if (!['waiting', 'delayed', 'prioritized', 'wait'].includes(state)) return false;
    return job.remove().then(() => true, () => false);
  }

  async function outcomeOf(batchId: string, job: BatchJob): Promise<BatchOutcome | { failed: string } | undefined> {
    // A batch queued again gets a new job id: a worker still busy with the forgotten job can never finish the new one.
    let queued = 0;
    let id = batchId;
    let heard: Promise<News> = Promise.resolve('recheck');
    const add = () => {
      id = `${batchId}-${++queued}`;
      // Listening before the job exists: a batch done at once is not missed.
      heard = news(id);
      return redis('queueing a batch', () => queue.add(stage, job, { jobId: id, attempts: config.attempts, backoff: { type: 'fixed', delay: 200 } }));
    };
    await add();
    for (;;) {
      const why = await heard;
      heard = news(id);
      if (givenUp) {
        await withdraw(id);
        throw givenUp;
      }
      if (signal.aborted && (await withdraw(id))) return undefined;
      if (why === 'refused') continue;
      const found = await redis('waiting for a batch', () => queue.getJob(id));
      if (!found) {
        log(`batch ${batchId} is gone from Redis (restarted without persistence?); queueing it again`);
        await add();
        continue;
      }
      const state = why === 'completed' ? why : await redis('waiting for a batch', () => found.getState());
      if (state !== 'completed' && state !== 'failed') continue;
      wakers.get(id)?.('stop');
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
      if (outcome.stageFailure) throw new StageFailure(stage, `on worker ${outcome.worker}: ${outcome.stageFailure}`);
      workers.batchDone(outcome.worker, items.length);
      return decodeResults(outcome, items.length);
    },
    async close() {
      clearInterval(lister);
      const done = workers.describe();
      if (done) log(`workers: ${done}`);
      // An unreachable Redis must not hold the run open: drop the connections instead.
      await withTimeout(Promise.all([queue.close(), events.close()]), callTimeoutMs).catch(() => {
        void queue.disconnect().catch(() => undefined);
        void events.disconnect().catch(() => undefined);
      });
    },
  };
}

/** The remote batches of a map stage whose executor is bullmq; undefined when it runs here. */
export async function remoteBatchesFor(options: {
  config: PipelineConfig;
  node: StageNode;
  identity: StageIdentity;
  inputs: Record<string, OutputRecord>;
  runId: string;
  signal: AbortSignal;
  log(message: string): void;
  workers(workers: WorkerStat[]): void;
}): Promise<RemoteBatches | undefined> {
  const executor = executorOf(options.config, options.node.config);
  if (executor.kind !== 'bullmq') return undefined;
  const { node, identity, ...rest } = options;
  return openRemoteBatches({ ...rest, config: executor, stage: node.name, check: stageCheckOf(identity) });
}
