// Item-level map stages: each item's result is memoised under (stage, memo key, item
// hash), so new items run alone, removed items drop out, and a killed run resumes after
// the last batch that committed (see memo.ts).
import { join } from 'node:path';
import pLimit, { type LimitFunction } from 'p-limit';
import type { z } from 'zod';
import { hashBytes } from './hash.js';
import { StageFailure } from './errors.js';
import { columnsOf, type ColumnTypes } from './table-schema.js';
import { loadMemo, MemoWriter } from './memo.js';
import { removeDamagedParts } from './memo-repair.js';
import { adoptResults, legacyResults } from './memo-legacy.js';
import type { State } from './state.js';
import { assembleOutputs } from './map-outputs.js';
import type { ItemResult, MapStage, Row, StageContext, TableInput } from './stage.js';
import type { OutputRecord } from './lockfile.js';
import type { Project } from './project.js';
import { inputArtifact } from './context.js';
import { withoutRunFacts } from './tables.js';
import { joinRefs, lostObject, objectRefs, objectsAsLeft } from './memo-objects.js';
import type { RemoteBatches } from './executor-bullmq.js';

export interface MapRunResult {
  outputs: Record<string, OutputRecord>;
  /** objects: the items whose rows name stored objects (status checks those objects) */
  items: { total: number; run: number; reused: number; failed: number; objects: number };
}

export class Interrupted extends Error {
  constructor(stage: string) {
    super(`stage ${stage} interrupted; finished batches are kept`);
  }
}

type TableSchema = z.ZodObject<z.ZodRawShape>;

/** The tables the items produce and the memo keeps: the measures, else the table outputs. */
export function memoTables(stage: MapStage): [string, TableSchema][] {
  if (stage.measures) return Object.entries(stage.measures);
  return Object.entries(stage.outputs).flatMap(([name, decl]) => (decl.kind === 'table' ? [[name, decl.schema] as [string, TableSchema]] : []));
}

/** Per memoised table, the run-fact columns (timings) left out of an item's result hash. */
function runFactsOf(stage: MapStage): Map<string, string[]> {
  const facts = new Map<string, string[]>();
  for (const [name, decl] of Object.entries(stage.outputs)) if (decl.kind === 'table' && decl.runFacts?.length) facts.set(name, decl.runFacts);
  return facts;
}

/** What an item's result is: its rows without run facts, so a rerun making the same rows slower or faster changes nothing downstream. */
function resultHash(rows: Record<string, Row[]>, runFacts: Map<string, string[]>): string {
  if (runFacts.size === 0) return hashBytes(JSON.stringify(rows));
  const identity = Object.fromEntries(Object.entries(rows).map(([name, list]) => [name, list.map((row) => withoutRunFacts(row, runFacts.get(name) ?? []))]));
  return hashBytes(JSON.stringify(identity));
}

/** Items whose identities are made at once: few calls of a stage's identity (each may read a table or ask a server), little held at a time. */
const identityChunk = 5000;

/** Per item, the hash its result is memoised under: of its declared identity, else of the item. */
async function itemHashes(stage: MapStage, items: Row[], ctx: StageContext): Promise<string[]> {
  if (!stage.identity) {
    // Plain JSON, not key-sorted: items and identities come from table rows (column order) or a
    // stage's own code, so their key order is stable, and a change could only cost a recompute, never a wrong reuse.
    return items.map((item) => hashBytes(JSON.stringify(item)));
  }
  const hashes: string[] = [];
  // A chunk at a time: the identities of 100,000 items (and the work in flight making them) never exist at once.
  for (let start = 0; start < items.length; start += identityChunk) {
    const chunk = items.slice(start, start + identityChunk);
    const identities = await stage.identity(chunk, ctx);
    if (identities.length !== chunk.length) throw new StageFailure(ctx.stage, `identity returned ${identities.length} values for ${chunk.length} items`);
    // Plain JSON for the same reason: key-sorting 40,000 identities would cost a second.
    for (const identity of identities) hashes.push(hashBytes(JSON.stringify(identity)));
  }
  return hashes;
}

export async function loadItems(stage: MapStage, ctx: StageContext): Promise<{ items: Row[]; hashes: string[] }> {
  const over = ctx.inputs[stage.over];
  if (!stage.items && over?.kind !== 'table') throw new StageFailure(ctx.stage, `map input "${stage.over}" is not a table input of this stage`);
  const all = stage.items ? await stage.items(ctx) : await (over as TableInput).rows();
  const allHashes = await itemHashes(stage, all, ctx);
  const seen = new Set<string>();
  const items: Row[] = [];
  const hashes: string[] = [];
  for (const [i, item] of all.entries()) {
    // Items of equal identity share one result: the first of them stands for all.
    const h = allHashes[i]!;
    if (seen.has(h)) continue;
    seen.add(h);
    items.push(item);
    hashes.push(h);
  }
  return { items, hashes };
}

/** For status: items without a finished result under the memo key (none that an old result will serve). */
export async function countItemsToRun(options: { project: Project; state: State; stage: MapStage; ctx: StageContext; memoKey: string; legacyKey?: string }) {
  const { project, state, stage, ctx, legacyKey } = options;
  const { items, hashes } = await loadItems(stage, ctx);
  const memo = await loadMemo(state, ctx.stage, options.memoKey);
  const tables = memoTables(stage).map(([n]) => n);
  const adoptable = legacyKey ? await legacyResults({ state, projectDir: project.dir, stage: ctx.stage, legacyKey, items, hashes, tables, memo }) : new Map();
  // Objects are stat'ed only when their folders changed since the last complete run.
  const checkObjects = !(await objectsAsLeft(state, project.paths.objects));
  const memoised = (h: string) => memo.get(h)?.status === 'ok' && !(checkObjects && lostObject(memo.get(h)!.objects, project.dir));
  return { toRun: hashes.filter((h) => !memoised(h) && !adoptable.has(h)).length, total: hashes.length };
}

function validateRows(stage: string, output: string, schema: TableSchema, rows: Row[], key: string): Row[] {
  return rows.map((row) => {
    const parsed = schema.safeParse(row);
    if (parsed.success) return parsed.data as Row;
    const issue = parsed.error.issues[0]!;
    throw new StageFailure(stage, `item ${key}: ${output}.${issue.path.join('.')}: ${issue.message}`);
  });
}

/**
 * Where a map stage's batches run. In this process today; a distributed queue (workers on
 * other machines, this process still the only one committing to the state) would be
 * another implementation of the same interface.
 */
export interface BatchExecutor {
  /** Run every batch; rejects with the first failure after the others have settled. */
  run<B>(batches: B[], work: (batch: B) => Promise<void>): Promise<void>;
}

export function localBatchExecutor(concurrency: number, resourceLimit?: LimitFunction): BatchExecutor {
  const stageLimit = pLimit(Math.max(1, concurrency));
  const limit = resourceLimit ?? ((fn: () => Promise<void>) => fn());
  return {
    async run(batches, work) {
      const settled = await Promise.allSettled(batches.map((b) => stageLimit(() => limit(() => work(b)))));
      const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
      if (failure) throw failure.reason;
    },
  };
}

export async function runMapStage(options: {
  project: Project;
  state: State;
  stage: MapStage;
  ctx: StageContext;
  memoKey: string;
  runId: string;
  /** recompute every item, ignoring memoised results */
  force?: boolean;
  /** the memo key of a run from before stage identities whose results still hold (memo-legacy.ts) */
  legacyKey?: string;
  resourceLimit?: LimitFunction;
  /** batches computed by workers elsewhere (executor-bullmq.ts): no setup here, the rows are committed here */
  remote?: RemoteBatches;
  /** set on the second attempt, after damaged memo parts were removed */
  repaired?: boolean;
}): Promise<MapRunResult> {
  const { project, state, stage, ctx, memoKey, runId } = options;
  const tables = memoTables(stage);
  const runFacts = runFactsOf(stage);
  const columns = new Map<string, ColumnTypes>(tables.map(([n, s]) => [n, [...columnsOf(s), ['_item', 'VARCHAR'], ['_ord', 'BIGINT']]]));
  const { items, hashes } = await loadItems(stage, ctx);
  const memo = await loadMemo(state, ctx.stage, memoKey);
  if (options.legacyKey && !options.force) {
    const legacy = { state, projectDir: project.dir, stage: ctx.stage, legacyKey: options.legacyKey, items, hashes, tables: tables.map(([n]) => n), memo };
    const byHash = new Map(hashes.map((h, i) => [h, items[i]!]));
    await adoptResults({ state, stage: ctx.stage, memoKey, runId, adopted: await legacyResults(legacy), keyOf: (h) => String(byHash.get(h)![stage.key]), memo });
  }
  // A hit whose stored objects are gone is made again: a stat per object, only when the stage runs.
  const memoised = (hash: string) => memo.get(hash)?.status === 'ok' && !lostObject(memo.get(hash)!.objects, project.dir);
  const todo = items.map((item, i) => ({ item, hash: hashes[i]! })).filter(({ hash }) => options.force || !memoised(hash));
  const reused = items.length - todo.length;
  let done = reused;
  ctx.progress(done, items.length);

  const writer = new MemoWriter({
    state,
    projectDir: project.dir,
    stage: ctx.stage,
    memoKey,
    runId,
    partDir: join(project.paths.memo, ctx.stage, memoKey.slice(0, 16)),
    columns,
    memo,
    backlog: Math.max(4, 2 * stage.concurrency(ctx.params)),
    committed(count) {
      done += count;
      ctx.progress(done, items.length);
    },
    // Workers elsewhere made their batches durable before handing them back.
    beforeCommit: stage.beforeCommit && !options.remote ? () => stage.beforeCommit!(setupState) : undefined,
  });

  const runBatch = async (batch: typeof todo, setupState: unknown) => {
    if (ctx.signal.aborted) return;
    const items = batch.map((b) => b.item);
    const results: ItemResult[] | undefined = options.remote ? await options.remote.mapBatch(items) : await stage.mapBatch(items, ctx, setupState);
    // Withdrawn from the queue before a worker took it: interrupted, left for the next run.
    if (!results) return;
    if (results.length !== batch.length) throw new StageFailure(ctx.stage, `mapBatch returned ${results.length} results for ${batch.length} items`);
    const keys = batch.map((b) => String(b.item[stage.key]));
    const finished = results.map((r, i) => ({
      hash: batch[i]!.hash, key: keys[i]!, outHash: resultHash(r.rows, runFacts), error: r.error,
      objects: joinRefs(objectRefs(Object.values(r.rows).flat(), project.dir, project.paths.objects)),
    }));
    const rows = new Map<string, Row[]>();
    for (const [name, schema] of tables) {
      const validated: Row[] = [];
      results.forEach((r, i) =>
        validateRows(ctx.stage, name, schema, r.rows[name] ?? [], keys[i]!).forEach((row, ord) => {
          // zod hands back fresh objects: tagging them in place spares a copy of every row.
          row._item = batch[i]!.hash;
          row._ord = ord;
          validated.push(row);
        }),
      );
      rows.set(name, validated);
    }
    await writer.add({ items: finished, rows });
  };

  const runsHere = todo.length > 0 && !options.remote;
  const setupState = runsHere ? await stage.setup?.(ctx, todo.map((t) => t.item)) : undefined;
  let result: MapRunResult | undefined;
  try {
    const size = Math.max(1, stage.batchSize(ctx.params));
    const batches: (typeof todo)[] = [];
    for (let i = 0; i < todo.length; i += size) batches.push(todo.slice(i, i + size));
    const executor: BatchExecutor = options.remote ? localBatchExecutor(options.remote.inFlight) : localBatchExecutor(stage.concurrency(ctx.params), options.resourceLimit);
    // Batches that finished are committed even when another failed: a rerun resumes after them.
    const computeFailure = await executor.run(batches, (b) => runBatch(b, setupState)).then(() => undefined, (error: unknown) => ({ error }));
    await writer.drain();
    if (computeFailure) throw computeFailure.error;
    if (runsHere) await stage.release?.(setupState);
    if (ctx.signal.aborted && done < items.length) throw new Interrupted(ctx.stage);

    const outputs = await assembleOutputs(project, state, ctx.stage, stage, ctx.params, hashes, memo).catch(async (error: unknown) => {
      if (options.repaired) throw error;
      const parts = [...new Set(hashes.flatMap((h) => memo.get(h)?.part ?? []))];
      const damaged = await removeDamagedParts(state, project.dir, ctx.stage, parts, tables.map(([n]) => n));
      if (damaged.length === 0) throw error;
      ctx.warn(`memo parts that could not be read were removed (${damaged.join(', ')}.*.parquet): their items run again`);
      return undefined;
    });
    if (outputs) {
      if (stage.finish) {
        const finished = Object.fromEntries(Object.entries(outputs).map(([n, rec]) => [n, inputArtifact(project, state, n, rec) as TableInput]));
        await stage.finish(ctx, setupState, finished);
      }
      const failed = hashes.filter((h) => memo.get(h)?.status === 'failed').length;
      const objects = hashes.filter((h) => memo.get(h)?.objects).length;
      result = { outputs, items: { total: items.length, run: todo.length, reused, failed, objects } };
    }
  } finally {
    if (runsHere) await stage.teardown?.(setupState);
  }
  return result ?? runMapStage({ ...options, repaired: true });
}
