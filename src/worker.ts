// `pipeline worker`: runs map-stage batches that a coordinator (`pipeline run` with a
// bullmq executor) put on Redis, on any machine with the same project checkout and the
// project folder (data/ included) on shared storage. It writes no state: it builds a
// stage context from its own checkout and an in-memory database, runs the stage's
// mapBatch and sends the rows back. A batch of another code, params or resources than
// its own is refused, saying which differs, and handed back for a matching worker.
import { hostname } from 'node:os';
import pLimit, { type LimitFunction } from 'p-limit';
import type { Job, Worker } from 'bullmq';
import { InputError, StageFailure } from './errors.js';
import { loadProject, type Project } from './project.js';
import { State } from './state.js';
import { StatCache } from './stat-cache.js';
import { createStageContext, inputArtifact } from './context.js';
import { outsideState, identityParams, stageCode, stageParams } from './fingerprint.js';
import { parseStageParams } from './params.js';
import { decodeRows } from './arrow-rows.js';
import { encodeResults, maskRedisUrl, redisConnection, type BatchJob, type BatchOutcome, type BatchRefusal, type StageCheck } from './batch-jobs.js';
import { stageCheckOf } from './executor-bullmq.js';
import { executorOf } from './executor.js';
import { executorSchema, type BullmqExecutorConfig } from '../schemas/pipeline.js';
import type { MapStage, StageContext } from './stage.js';

export interface WorkerOptions {
  dir: string;
  set: Record<string, unknown>;
  /** default: every map stage whose executor is bullmq */
  stages?: string[];
  concurrency: number;
  redis?: string;
  name?: string;
  log(message: string): void;
  /** told once every queue is connected, with what the worker serves (the Redis URLs without their passwords) */
  ready?(serving: { name: string; stages: string[]; redis: string[]; concurrency: number }): void;
}

/** One stage as this worker runs it: its own identity, and its setup done once. */
interface PreparedStage {
  module: MapStage;
  params: unknown;
  code: string;
  identityParams: Record<string, unknown>;
  contexts: Map<string, { ctx: StageContext; check: Promise<StageCheck> }>;
  setup?: Promise<unknown>;
}

/** how long a stopping worker waits for its batches in hand and for Redis before it lets go by force */
const closeTimeoutMs = 10_000;
/** how long a worker that refused a batch takes no other of that stage, leaving them to matching workers */
const refusalPauseMs = 2000;

function servedStages(project: Project, options: WorkerOptions): { name: string; config: BullmqExecutorConfig }[] {
  const mapStages = [...project.graph.nodes.values()].filter((n) => n.loaded?.module.kind === 'map');
  const names = options.stages ?? mapStages.filter((n) => executorOf(project.config, n.config).kind === 'bullmq').map((n) => n.name);
  if (names.length === 0) throw new InputError('no map stage has `executor: {kind: bullmq}` in pipeline.yaml; name them with --stages', { field: '--stages' });
  return names.map((name) => {
    const node = mapStages.find((n) => n.name === name);
    if (!node) throw new InputError(`"${name}" is not a map stage of this project (map stages: ${mapStages.map((n) => n.name).join(', ')})`, { field: '--stages' });
    const configured = executorOf(project.config, node.config);
    const redis = options.redis ?? (configured.kind === 'bullmq' ? configured.redis : undefined);
    if (!redis) throw new InputError(`stage ${name} has no bullmq executor in pipeline.yaml: give --redis URL`, { field: '--redis' });
    const base = configured.kind === 'bullmq' ? configured : executorSchema.parse({ kind: 'bullmq', redis });
    return { name, config: { ...(base as BullmqExecutorConfig), redis } };
  });
}

function mismatch(mine: StageCheck, theirs: StageCheck): string | undefined {
  const differs = (['code', 'params', 'resources'] as const).filter((k) => mine[k] !== theirs[k]);
  if (differs.length === 0) return undefined;
  const what = differs.map((k) => `${k} ${mine[k].slice(0, 12)} here, ${theirs[k].slice(0, 12)} in the run`).join('; ');
  return `its stage ${differs.join(' and ')} differ from the run's (${what}): run the same checkout and params as the coordinator`;
}

export async function runWorker(options: WorkerOptions): Promise<number> {
  const project = await loadProject(options.dir, options.set);
  const stages = servedStages(project, options);
  const name = options.name ?? `${hostname()}:${process.pid}`;
  // In memory: the worker reads input tables through their Parquet files and never writes the project's state.
  const state = await State.open(':memory:');
  const stats = StatCache.open(state, project.paths.objects);
  const controller = new AbortController();
  const channels = {
    log: (stage: string, m: string) => options.log(`${stage}: ${m}`),
    warn: (stage: string, m: string) => options.log(`${stage}: warning: ${m}`),
    progress: () => undefined,
  };
  const prepared = new Map<string, PreparedStage>();
  // pipeline.yaml `resources:` bound this worker's batches as they bind a local run's (a model that is not re-entrant).
  const resourceLimits = new Map(Object.entries(project.config.resources).map(([r, n]) => [r, pLimit(n)] as [string, LimitFunction]));
  const limited = <T>(resource: string | undefined, work: () => Promise<T>) => {
    const limit = resource ? resourceLimits.get(resource) : undefined;
    return limit ? limit(work) : work();
  };

  async function prepare(stage: string): Promise<PreparedStage> {
    const existing = prepared.get(stage);
    if (existing) return existing;
    const node = project.graph.nodes.get(stage)!;
    const module = node.loaded!.module as MapStage;
    const raw = stageParams(project, node);
    const entry: PreparedStage = {
      module, params: parseStageParams(project.locate, stage, module, raw), code: await stageCode(node, stats),
      identityParams: identityParams(module, raw).params, contexts: new Map(),
    };
    prepared.set(stage, entry);
    return entry;
  }

  /** One context per set of inputs (a run), so what a stage caches per input (lookups) holds across its batches. */
  function contextFor(stage: string, entry: PreparedStage, job: BatchJob) {
    const key = JSON.stringify(job.inputs);
    let found = entry.contexts.get(key);
    if (!found) {
      const inputs = Object.fromEntries(Object.entries(job.inputs).map(([local, rec]) => [local, inputArtifact(project, state, local, rec)]));
      const ctx = createStageContext({ project, state, stage, params: entry.params, inputs, signal: controller.signal, channels, dynamicDeps: new Set(), stats });
      const check = outsideState(entry.module, ctx).then(({ resources }) => stageCheckOf({ code: entry.code, params: entry.identityParams, resources }));
      found = { ctx, check };
      entry.contexts.set(key, found);
    }
    return found;
  }

  async function runBatch(job: Job<BatchJob>, token?: string): Promise<BatchOutcome> {
    const { stage } = job.data;
    const entry = await prepare(stage);
    const { ctx, check } = contextFor(stage, entry, job.data);
    const refused = mismatch(await check, job.data.check);
    if (refused) return handBack(job, token, refused);
    const items = decodeRows(job.data.items);
    entry.setup ??= Promise.resolve(entry.module.setup?.(ctx, items));
    try {
      const setupState = await entry.setup;
      const results = await limited(entry.module.resource, () => entry.module.mapBatch(items, ctx, setupState));
      await entry.module.beforeCommit?.(setupState);
      return encodeResults(name, results);
    } catch (error) {
      // What would fail the stage in a local run fails it in the distributed one; other errors are retried.
      if (error instanceof StageFailure) return { worker: name, stageFailure: error.message };
      throw error;
    }
  }

  /**
   * A refused batch goes back to the queue for a worker that matches the run; the run
   * hears why through the job's progress, and fails only when no worker takes it.
   */
  async function handBack(job: Job<BatchJob>, token: string | undefined, reason: string): Promise<never> {
    const { stage } = job.data;
    options.log(`refusing a batch of ${stage}: ${reason}`);
    const refusal: BatchRefusal = { refused: reason, worker: name };
    await job.updateProgress(refusal);
    await job.moveToWait(token);
    const worker = workers.get(stage)!;
    // Paused, it leaves the stage's other batches to the matching workers instead of taking and refusing each in turn.
    void worker.pause(true).then(() => setTimeout(() => void worker.resume(), refusalPauseMs).unref());
    throw new WaitingError();
  }

  const { Worker: BullWorker, WaitingError } = await import('bullmq');
  const stopping = stopSignals();
  const workers = new Map<string, Worker>(stages.map(({ name: stage, config }) => {
    const worker = new BullWorker<BatchJob, BatchOutcome>(stage, runBatch, {
      connection: redisConnection(config.redis), prefix: config.queue_prefix, concurrency: options.concurrency,
      lockDuration: config.lock_ms, stalledInterval: config.stalled_check_ms, maxStalledCount: config.attempts,
      // The run lists the workers it can count on by this name (a Redis client name has no spaces).
      name: encodeURIComponent(name),
    });
    let lastError = '';
    worker.on('error', (error: Error) => {
      if (error.message !== lastError) options.log(`Redis at ${maskRedisUrl(config.redis)}: ${error.message}`);
      lastError = error.message;
    });
    return [stage, worker];
  }));
  const ready = await Promise.race([Promise.all([...workers.values()].map((w) => w.waitUntilReady())).then(() => true), stopping.first.then(() => false)]);
  if (ready) {
    const where = [...new Set(stages.map((s) => maskRedisUrl(s.config.redis)))];
    options.log(`worker ${name}: serving ${stages.map((s) => s.name).join(', ')} from ${where.join(', ')} (concurrency ${options.concurrency}); Ctrl-C stops after the batches in hand (at most ${closeTimeoutMs / 1000} s)`);
    options.ready?.({ name, stages: stages.map((s) => s.name), redis: where, concurrency: options.concurrency });
    await stopping.first;
  }
  const code = await stopWorkers([...workers.values()], stopping, options.log);
  // A connection still trying to reach a lost Redis, or a model busy with a batch let go, must not keep the process alive.
  setTimeout(() => process.exit(code), exitGraceMs).unref();
  controller.abort();
  for (const entry of prepared.values()) if (entry.setup) await entry.module.teardown?.(await entry.setup);
  await state.close();
  stopping.release();
  return code;
}

/** how long a stopped worker may take to release its stage and end by itself before it is ended */
const exitGraceMs = 5000;
/** how long dropping the connections may take */
const disconnectMs = 1000;

/** SIGINT and SIGTERM as promises: the first asks to stop, the second to stop now. */
function stopSignals() {
  let signals = 0;
  let onFirst!: () => void;
  let onSecond!: () => void;
  const first = new Promise<void>((r) => (onFirst = r));
  const second = new Promise<void>((r) => (onSecond = r));
  const handler = () => (++signals === 1 ? onFirst() : onSecond());
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    first,
    second,
    release() {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}

/**
 * Closes the BullMQ workers, letting the batches in hand finish, for at most
 * closeTimeoutMs or until a second signal; then drops the connections. 0 when it closed
 * gracefully, 1 when it let go by force (the batches in hand go to another worker once
 * their lock expires).
 */
async function stopWorkers(workers: Worker[], stopping: ReturnType<typeof stopSignals>, log: (m: string) => void): Promise<number> {
  const timeout = new Promise<void>((r) => setTimeout(r, closeTimeoutMs).unref());
  const graceful = await Promise.race([
    Promise.all(workers.map((w) => w.close())).then(() => true),
    Promise.race([timeout, stopping.second]).then(() => false),
  ]);
  const dropped = Promise.all(workers.map((w) => w.disconnect().catch(() => undefined)));
  await Promise.race([dropped, new Promise((r) => setTimeout(r, disconnectMs).unref())]);
  if (graceful) return 0;
  log(`worker stopped by force: the batches in hand or Redis did not let go within ${closeTimeoutMs / 1000} s; unfinished batches go to another worker once their lock expires`);
  return 1;
}
