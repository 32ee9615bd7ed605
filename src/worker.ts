// `pipeline worker`: runs map-stage batches that a coordinator (`pipeline run` with a
// bullmq executor) put on Redis, on any machine with the same project checkout and the
// project folder (data/ included) on shared storage. It writes no state: it builds a
// stage context from its own checkout and an in-memory database, runs the stage's
// mapBatch and sends the rows back. A batch of another code, params or resources than
// its own is refused, saying which differs.
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
import { encodeResults, maskRedisUrl, redisConnection, type BatchJob, type BatchOutcome, type StageCheck } from './batch-jobs.js';
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

/** how long a stopping worker waits for its batches in hand and for Redis */
const closeTimeoutMs = 30_000;

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
  const stats = StatCache.open(state);
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

  async function runBatch(job: Job<BatchJob>): Promise<BatchOutcome> {
    const { stage } = job.data;
    const entry = await prepare(stage);
    const { ctx, check } = contextFor(stage, entry, job.data);
    const refused = mismatch(await check, job.data.check);
    if (refused) {
      options.log(`refusing a batch of ${stage}: ${refused}`);
      return { worker: name, refused };
    }
    const items = decodeRows(job.data.items);
    entry.setup ??= Promise.resolve(entry.module.setup?.(ctx, items));
    try {
      const setupState = await entry.setup;
      return encodeResults(name, await limited(entry.module.resource, () => entry.module.mapBatch(items, ctx, setupState)));
    } catch (error) {
      // What would fail the stage in a local run fails it in the distributed one; other errors are retried.
      if (error instanceof StageFailure) return { worker: name, stageFailure: error.message };
      throw error;
    }
  }

  const { Worker: BullWorker } = await import('bullmq');
  const workers: Worker[] = stages.map(({ name: stage, config }) => {
    const worker = new BullWorker<BatchJob, BatchOutcome>(stage, runBatch, {
      connection: redisConnection(config.redis), prefix: config.queue_prefix, concurrency: options.concurrency,
      lockDuration: config.lock_ms, stalledInterval: config.stalled_check_ms, maxStalledCount: config.attempts,
    });
    let lastError = '';
    worker.on('error', (error: Error) => {
      if (error.message !== lastError) options.log(`Redis at ${maskRedisUrl(config.redis)}: ${error.message}`);
      lastError = error.message;
    });
    return worker;
  });
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  const where = [...new Set(stages.map((s) => maskRedisUrl(s.config.redis)))].join(', ');
  options.log(`worker ${name}: serving ${stages.map((s) => s.name).join(', ')} from ${where} (concurrency ${options.concurrency}); Ctrl-C stops after the batches in hand`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  // A second signal, or a Redis that cannot be reached to hand the batches back, must not keep the worker alive.
  const again = new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  const unreachable = new Promise<void>((resolve) => setTimeout(resolve, closeTimeoutMs).unref());
  await Promise.race([Promise.all(workers.map((w) => w.close())), again, unreachable]);
  await Promise.all(workers.map((w) => w.disconnect().catch(() => undefined)));
  controller.abort();
  for (const entry of prepared.values()) if (entry.setup) await entry.module.teardown?.(await entry.setup);
  await state.close();
  return 0;
}
