// The contract between the engine and stage modules. A stage module default-exports
// the value of `defineStage` or `defineMapStage`; the engine loads it by name from
// pipeline.yaml (`uses:`) and knows nothing else about what it does.
import type { z } from 'zod';

export type Row = Record<string, unknown>;

/** SQL on the state database, with named $parameters. */
export type Sql = <T = Row>(query: string, params?: Record<string, unknown>) => Promise<T[]>;

/** What a stage produces, by output name. */
export type OutputDecl =
  | {
      kind: 'table';
      schema: z.ZodObject<z.ZodRawShape>;
      /** columns that record how a run went (timings), not what it made: left out of the table's hash, so they never make dependents stale */
      runFacts?: string[];
      /** columns that name a row: what a run changed is counted on them (rows added, removed, changed); without, on whole rows */
      key?: string[];
    }
  /** a file or folder the stage writes under ctx.outDir(name); hashed by content */
  | { kind: 'path' };

/** A table produced upstream: a Parquet file plus its logical content hash. */
export interface TableInput {
  kind: 'table';
  name: string;
  path: string;
  hash: string;
  /** All rows, as plain objects (JSON columns parsed). */
  rows<T = Row>(): Promise<T[]>;
}

export interface PathInput {
  kind: 'path';
  name: string;
  path: string;
  hash: string;
}

export type InputArtifact = TableInput | PathInput;

export interface ObjectRef {
  hash: string;
  /** absolute path of the stored file */
  path: string;
}

/** Content-addressed files (PNGs, .safetensors): stored once, named by their hash. */
export interface ObjectStore {
  put(data: Uint8Array, ext: string): Promise<ObjectRef>;
  putFile(file: string, ext: string): Promise<ObjectRef>;
  pathOf(hash: string, ext: string): string;
  /** The object's path when its bytes hash to its name; a damaged one is removed (the stage that made it makes it again) and undefined returned. */
  verified(hash: string, ext: string): Promise<string | undefined>;
  /** Whether a file is a hard link of an object removed as damaged before this run: the same wrong bytes, to be replaced by what is made again. */
  damagedLink(path: string): boolean;
}

export interface StageContext<P = unknown> {
  stage: string;
  /** Only the params this stage declares in pipeline.yaml, nested as in the file. */
  params: P;
  inputs: Record<string, InputArtifact>;
  projectDir: string;
  dataDir: string;
  store: ObjectStore;
  /** A fresh, empty folder of this run for a `path` output; pipeline.lock naming it (after the stage returns) makes it current. */
  outDir(output: string): string;
  /** Run SQL on the state database; every input table is a view by its input name. */
  sql: Sql;
  /** Like sql, but the rows come in order a chunk at a time: for a result too large to hold, such as a table output to return. */
  sqlChunks<T = Row>(query: string, params?: Record<string, unknown>): AsyncIterable<T[]>;
  /** Content hash of a file, remembered across runs by (size, mtime, inode): cheap for a 2 GB model. */
  fileHash(path: string): Promise<string>;
  /** Record a file the stage read that pipeline.yaml did not list (like a depfile). */
  dependOn(paths: string[]): void;
  log(message: string): void;
  warn(message: string): void;
  /** How far the stage is; `unit` is what it counts ("items" unless said: train counts "steps"). */
  progress(done: number, total: number, unit?: string): void;
  signal: AbortSignal;
}

/**
 * How a param bears on a stage's results. Unmarked params define results. Mark the others
 * in the stage's params schema with `operational(...)` or `derivation(...)`:
 * - operational: decides only how the work is done (concurrency, retries, timeouts,
 *   endpoints, batch sizes, workers, threads). It never makes anything stale: not the
 *   stage fingerprint, not an item.
 * - derivation: read only by a map stage's `derive` step (thresholds over stored
 *   measurements). A change re-derives the outputs and runs no item.
 */
export type ParamRole = 'operational' | 'derivation';

// Keyed by the schema's definition, which `.describe()` and `.meta()` copies share.
const paramRoles = new WeakMap<object, ParamRole>();

function markRole<T extends z.ZodType>(schema: T, role: ParamRole): T {
  paramRoles.set(schema._zod.def, role);
  return schema;
}

export const operational = <T extends z.ZodType>(schema: T): T => markRole(schema, 'operational');
export const derivation = <T extends z.ZodType>(schema: T): T => markRole(schema, 'derivation');

export function roleOf(schema: z.ZodType): ParamRole | undefined {
  return paramRoles.get(schema._zod.def);
}

interface StageCommon<P> {
  description: string;
  /**
   * The version of the code that decides results (like Dagster's code_version): bump it
   * when a change to the stage would change what it produces. With a version declared, a
   * map stage's items are memoised under it instead of under its code, so an edit to
   * bookkeeping, logging or the engine reruns no item. Without one, the code closure (the
   * module and the helpers it imports) stands in, and any edit reruns every item. Whole
   * stages are cheap and stay fingerprinted by their code as well.
   */
  version?: string;
  params: z.ZodType<P>;
  outputs: Record<string, OutputDecl>;
  /** Identities of outside things every result depends on (model hashes...): in the memo key. */
  resources?(ctx: StageContext<P>): Promise<Record<string, string>>;
  /** What each resource is, in words, for `status`: {checkpoint: 'the A1111 checkpoint'}. */
  resourceLabels?: Record<string, string>;
  /**
   * What changed in a resource since the stage last finished, in words for `pipeline status`
   * (its values are often hashes); undefined keeps the plain "changed: old -> new".
   */
  describeResource?(name: string, since: { finishedAt: string; value: string | undefined }, ctx: StageContext<P>): Promise<string | undefined>;
  /**
   * Outside state some items' identities read (what a server lists): a change makes the
   * stage stale, so identities are taken again, but it is not in the memo key, so only
   * the items whose identity changed rerun. Short values: status shows old -> new.
   */
  observe?(ctx: StageContext<P>): Promise<Record<string, string>>;
  /** An observed change in the user's words for status; without it, `<key> changed: old -> new`. */
  describeObserved?(key: string, was: string | undefined, now: string | undefined): string;
  /**
   * Folders and globs the stage reads that its params name (a source stage's inputs outside
   * the project): fingerprinted like pipeline.yaml `deps`, listings cached by folder mtime,
   * so a no-op re-lists nothing; one that does not exist counts as empty. Absolute or
   * relative to the project.
   */
  deps?(params: P, projectDir: string): Promise<string[]>;
  /**
   * Validate the user's files the params name (a source stage's prompt files, templates)
   * before anything is written: the session calls it with the parsed params before it
   * opens the state database, so bad input exits 2 leaving `data/` as it was. Throws
   * InputError(s). Status calls it too, so it must stay cheap (no full plan).
   */
  check?(params: P, projectDir: string): Promise<void>;
  /**
   * What the stage made for people beside its outputs (folders of images, manifests) that
   * is gone, in words for status: any makes the stage run again, and that run puts it back
   * (a map stage in `finish`). `outputs` are the current ones. Status calls it at every
   * skip, so it must stay cheap (stats, no reading of images).
   */
  missing?(ctx: StageContext<P>, outputs: Record<string, InputArtifact>): Promise<string[]>;
}

export interface WholeStage<P = any> extends StageCommon<P> {
  kind: 'stage';
  /**
   * Tables as rows, or as chunks of rows for a table too large to hold at once (ctx.sqlChunks,
   * or a generator); `path` outputs are the folders written under ctx.outDir.
   */
  run(ctx: StageContext<P>): Promise<Record<string, Row[] | AsyncIterable<Row[]> | { path: string }>>;
}

/** One item's outcome. `error` marks it failed: its rows still show, and the next run retries it. */
export interface ItemResult {
  rows: Record<string, Row[]>;
  error?: string;
}

export interface MapStage<P = any, I extends Row = Row, S = unknown> extends StageCommon<P> {
  kind: 'map';
  /** The input whose rows are the items, unless `items` builds them. */
  over: string;
  /** The column that names an item (for messages and ordering). */
  key: string;
  /**
   * What defines each item's result, one value per item: its memo key is the hash of that
   * value, the stage's version and its resources, and nothing else, so params the identity
   * leaves out cannot rerun an item. Items with equal identities share one result. Without
   * it, the identity is the whole item plus every param that is neither operational nor
   * derivation.
   */
  identity?(items: I[], ctx: StageContext<P>): Promise<unknown[]>;
  /** Build the items (for example a join of two inputs). Defaults to the rows of `over`. */
  items?(ctx: StageContext<P>): Promise<I[]>;
  batchSize(params: P): number;
  concurrency(params: P): number;
  /** A named limit shared by every stage that uses it (pipeline.yaml `resources:`). */
  resource?: string;
  /** Once per run, before the first batch (load a model, check a server). */
  setup?(ctx: StageContext<P>, items: I[]): Promise<S>;
  /** Results aligned with `items`. */
  mapBatch(items: I[], ctx: StageContext<P>, state: S): Promise<ItemResult[]>;
  /**
   * Make durable what mapBatch wrote beside its results (generate's session manifests)
   * before finished batches are committed: later batches run meanwhile, so mapBatch need
   * not wait for such writes itself. A worker calls it before it hands its results back.
   */
  beforeCommit?(state: S): Promise<void>;
  /**
   * Once per run after all batches, with the assembled output tables (e.g. write a manifest).
   * `state` is undefined when every item was memoised: setup (a model load, a server check) is skipped then.
   */
  finish?(ctx: StageContext<P>, state: S | undefined, outputs: Record<string, TableInput>): Promise<void>;
  /**
   * After the last batch, before the outputs are assembled, when setup ran: free what only
   * the batches needed (a model, worker threads), so the assembly of 100,000 rows does not
   * run beside them. teardown still follows finish, so it must allow for this.
   */
  release?(state: S): Promise<void>;
  /** After finish, when setup ran. */
  teardown?(state: S): Promise<void>;
  /**
   * The tables mapBatch returns and the memo keeps, when they are not the outputs
   * themselves: expensive measurements that `derive` turns into outputs. An output named
   * like a measure is that measure, passed through.
   */
  measures?: Record<string, z.ZodObject<z.ZodRawShape>>;
  /**
   * Cheap outputs computed by SQL from the measures on every run of the stage: per output
   * not among the measures, one SELECT giving its schema's columns and `_row`, the order
   * its rows are written in. Each measure is a view by its name, with `_item` (its item's
   * memo hash) and `_row` (item order, then the item's row order). Values from params are
   * inlined by the stage, from its validated params. A change to a derivation param
   * re-derives these tables and runs no item.
   */
  derive?(params: P): Record<string, string>;
}

export type StageModule = WholeStage | MapStage<any, any, any>;

export function defineStage<P>(stage: Omit<WholeStage<P>, 'kind'>): WholeStage<P> {
  return { kind: 'stage', ...stage };
}

export function defineMapStage<P, I extends Row = Row, S = unknown>(
  stage: Omit<MapStage<P, I, S>, 'kind'>,
): MapStage<P, I, S> {
  return { kind: 'map', ...stage };
}

export function isStageModule(value: unknown): value is StageModule {
  if (typeof value !== 'object' || value === null) return false;
  const kind = (value as { kind?: unknown }).kind;
  return (kind === 'stage' || kind === 'map') && typeof (value as any).outputs === 'object';
}
