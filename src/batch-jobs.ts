// What a map-stage batch is on the queue, shared by the coordinator (executor-bullmq.ts)
// and `pipeline worker` (worker.ts): the items and the stage's identity going out, the
// item results coming back, both as Arrow IPC. Jobs carry data only, never shell text.
import { decodeRows, encodeRows, type EncodedRows } from './arrow-rows.js';
import type { ItemResult, Row } from './stage.js';
import type { OutputRecord } from './lockfile.js';

/** What decides a stage's results, compared by a worker before it runs a batch. */
export interface StageCheck {
  /** hash of the stage module and its helpers */
  code: string;
  /** hash of the params it reads, less the operational ones (a worker may use its own device) */
  params: string;
  /** hash of its resources (model files...) */
  resources: string;
}

export interface BatchJob {
  stage: string;
  check: StageCheck;
  /** the stage's inputs as pipeline.lock records them: project-relative paths and hashes on the shared storage */
  inputs: Record<string, OutputRecord>;
  items: EncodedRows;
}

/** What a worker that will not run a batch reports as the job's progress before handing it back. */
export interface BatchRefusal {
  worker: string;
  refused: string;
}

export function isRefusal(progress: unknown): progress is BatchRefusal {
  return typeof progress === 'object' && progress !== null && typeof (progress as BatchRefusal).refused === 'string' && typeof (progress as BatchRefusal).worker === 'string';
}

export interface BatchOutcome {
  worker: string;
  /** the stage itself failed (as it would have failed the local run) */
  stageFailure?: string;
  /** per table, the rows of every item, each tagged with its index in the batch */
  tables?: Record<string, EncodedRows>;
  /** per item, the tables its result names (in order), and its error */
  present?: string[][];
  errors?: (string | null)[];
}

const itemIndex = '__sdloop_item';

export function encodeResults(worker: string, results: ItemResult[]): BatchOutcome {
  const byTable = new Map<string, Row[]>();
  results.forEach((result, n) => {
    for (const [table, rows] of Object.entries(result.rows)) {
      if (!byTable.has(table)) byTable.set(table, []);
      byTable.get(table)!.push(...rows.map((row) => ({ ...row, [itemIndex]: n })));
    }
  });
  return {
    worker,
    tables: Object.fromEntries([...byTable].map(([table, rows]) => [table, encodeRows(rows)])),
    present: results.map((r) => Object.keys(r.rows)),
    errors: results.map((r) => r.error ?? null),
  };
}

export function decodeResults(outcome: BatchOutcome, count: number): ItemResult[] {
  const results: ItemResult[] = Array.from({ length: count }, (_, n) => ({
    rows: Object.fromEntries((outcome.present?.[n] ?? []).map((table) => [table, [] as Row[]])),
    ...(outcome.errors?.[n] ? { error: outcome.errors[n]! } : {}),
  }));
  for (const [table, encoded] of Object.entries(outcome.tables ?? {})) {
    for (const row of decodeRows(encoded)) {
      const n = row[itemIndex] as number;
      delete row[itemIndex];
      results[n]!.rows[table]!.push(row);
    }
  }
  return results;
}

/** The URL as it may be printed: the password replaced by ***. */
export function maskRedisUrl(url: string): string {
  return url.replace(/^(rediss?:\/\/[^:@/]*:)[^@/]*@/, '$1***@');
}

/** BullMQ's connection options from a redis:// URL; commands wait while Redis is away (the callers time out themselves). */
export function redisConnection(url: string) {
  const parsed = new URL(url);
  const db = parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : 0;
  return {
    host: parsed.hostname,
    port: parsed.port ? Number(parsed.port) : 6379,
    username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    db,
    ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
    maxRetriesPerRequest: null,
    retryStrategy: (times: number) => Math.min(200 * times, 2000),
  };
}
