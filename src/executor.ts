// Where a map stage's batches run: in this process, or with executor `bullmq` on the
// `pipeline worker`s behind Redis. The BullMQ side, and Arrow that its batches travel
// as, is imported only for a stage that is distributed: a local run never loads either.
import type { ExecutorConfig, PipelineConfig, StageConfig } from '../schemas/pipeline.js';
import type { RemoteBatches } from './executor-bullmq.js';
import type { StageIdentity } from './fingerprint.js';
import type { StageNode } from './graph.js';
import type { OutputRecord } from './lockfile.js';
import type { WorkerStat } from './run-progress.js';

export function executorOf(config: Pick<PipelineConfig, 'executor'>, stage: Pick<StageConfig, 'executor'>): ExecutorConfig {
  return stage.executor ?? config.executor;
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
  const { openRemoteBatches, stageCheckOf } = await import('./executor-bullmq.js');
  const { node, identity, ...rest } = options;
  return openRemoteBatches({ ...rest, config: executor, stage: node.name, check: stageCheckOf(identity) });
}
