// Deciding what is stale and running it: stages in dependency order, independent ones
// in parallel (--jobs), each skipped when its fingerprint matches pipeline.lock.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import pLimit, { type LimitFunction } from 'p-limit';
import { InputError, StageFailure } from './errors.js';
import { composeIdentity, depsUnion, expandDeps, identityParams, hashDeps, outsideState, stageCode, stageParams, withDynamicDeps, type StageIdentity } from './fingerprint.js';
import { explainStaleness } from './explain.js';
import { readStageRecords, type StageRecords } from './stage-records.js';
import { removeDamagedObjects } from './memo-objects.js';
import { createStageContext, inputArtifact } from './context.js';
import { parseStageParams } from './params.js';
import { executeStage } from './execute.js';
import { countItemsToRun, Interrupted } from './map-executor.js';
import { legacyMemoKey } from './memo-legacy.js';
import { lockFromState, readLockFile, writeLockFile, type LockEntry, type LockFile, type OutputRecord } from './lockfile.js';
import { recordLockEntry, recordMissingEntries } from './lock-records.js';
import { producedPaths, selectStages, type StageNode } from './graph.js';
import type { State } from './state.js';
import type { StatCache } from './stat-cache.js';
import { GlobCache } from './glob-cache.js';
import { removeOldVersions } from './generations.js';
import { cleanUpAfterKilledRuns, withFileHashes } from './run-housekeeping.js';
import type { Project } from './project.js';
import type { Reporter } from './progress.js';
import type { RunSummary } from './command.js';
import { itemFailures, recordStageRun } from './run-summary.js';
import { changesOfCommit, recordTableChanges } from './table-changes.js';
import type { StageContext } from './stage.js';

export interface StageStatus {
  name: string;
  upToDate: boolean;
  reasons: string[];
}

type StageOutcome = RunSummary['stages'][number];

/** This run's row in the runs table, written only once some stage has work to do. */
interface RunRecord {
  id: string;
  ensureRecorded(): Promise<void>;
}

export class Runner {
  private lock: LockFile;
  private lockWrites: Promise<void> = Promise.resolve();
  private readonly resourceLimits = new Map<string, LimitFunction>();
  private readonly producedPaths: Set<string>;
  private readonly globs: GlobCache;

  constructor(
    private readonly project: Project,
    private readonly state: State,
    private readonly stats: StatCache,
    private readonly reporter: Reporter,
  ) {
    this.lock = readLockFile(project.paths.lock);
    this.producedPaths = producedPaths(project.graph);
    this.globs = new GlobCache(state);
  }

  /** Another runner of this session (a run with --set overrides) may have moved pipeline.lock on. */
  private reloadLock(): void {
    this.lock = readLockFile(this.project.paths.lock);
  }

  currentOutputs(): Record<string, OutputRecord> {
    this.reloadLock();
    const outputs: Record<string, OutputRecord> = {};
    for (const entry of Object.values(this.lock.stages)) Object.assign(outputs, entry.outs);
    return outputs;
  }

  currentMemoKeys(): Record<string, string> {
    this.reloadLock();
    return Object.fromEntries(Object.entries(this.lock.stages).map(([name, entry]) => [name, entry.memo]));
  }

  private inputRecords(node: StageNode): Record<string, OutputRecord> | undefined {
    const records: Record<string, OutputRecord> = {};
    for (const edge of node.inputs) {
      const record = this.lock.stages[edge.stage]?.outs[edge.output];
      if (!record) return undefined;
      records[edge.local] = record;
    }
    return records;
  }

  private makeContext(node: StageNode, params: unknown, records: Record<string, OutputRecord>, signal: AbortSignal, dynamicDeps: Set<string>, damaged?: ReadonlySet<string>): StageContext {
    const inputs = Object.fromEntries(Object.entries(records).map(([local, rec]) => [local, inputArtifact(this.project, this.state, local, rec)]));
    return createStageContext({ project: this.project, state: this.state, stage: node.name, params, inputs, signal, channels: this.reporter, dynamicDeps, stats: this.stats, damaged });
  }

  /** Everything that decides whether the stage must run; undefined when an input does not exist yet. */
  private async identify(node: StageNode, signal: AbortSignal, recorded: StageRecords): Promise<{ identity: StageIdentity; params: unknown; records: Record<string, OutputRecord>; staticDeps: string[] } | undefined> {
    const records = this.inputRecords(node);
    if (!records) return undefined;
    const rawParams = stageParams(this.project, node);
    const module = node.loaded?.module;
    const params = module ? parseStageParams(this.project.locate, node.name, module, rawParams) : rawParams;
    const staticDeps = await expandDeps(this.project, node, this.producedPaths, this.globs, params);
    const deps = await hashDeps(this.project, depsUnion(staticDeps, recorded.dynamicDeps(node.name)), this.stats);
    const { resources, observed } = await outsideState(module, this.makeContext(node, params, records, signal, new Set()));
    const inputs = Object.fromEntries(Object.entries(records).map(([k, r]) => [k, r.hash]));
    const code = await stageCode(node, this.stats);
    const identity = composeIdentity({ code, version: module?.version ?? null, ...identityParams(module, rawParams), resources, observed, inputs, deps });
    return { identity, params, records, staticDeps };
  }

  private async reasons(node: StageNode, identity: StageIdentity, params: unknown, records: Record<string, OutputRecord>, recorded: StageRecords, countItems: boolean): Promise<string[]> {
    const entry = this.lock.stages[node.name];
    const failure = recorded.lastFailure(node.name);
    if (entry && entry.fingerprint === identity.fingerprint && !failure) {
      const reasons = await explainStaleness({ project: this.project, state: this.state, stats: this.stats, stage: node.name, identity, entry, mapStage: node.loaded?.module.kind === 'map' });
      const missing = node.loaded?.module.missing;
      if (reasons.length > 0 || !missing) return reasons;
      const outputs = Object.fromEntries(Object.entries(entry.outs).map(([name, rec]) => [name, inputArtifact(this.project, this.state, name, rec)]));
      return missing(this.makeContext(node, params, records, new AbortController().signal, new Set()), outputs);
    }
    let itemsToRun: { toRun: number; total: number } | undefined;
    const module = node.loaded?.module;
    const ctx = this.makeContext(node, params, records, new AbortController().signal, new Set());
    // Counting items means reading the input table: worth it for status, not when the run will count them anyway.
    if (countItems && module?.kind === 'map') {
      itemsToRun = await countItemsToRun({ project: this.project, state: this.state, stage: module, ctx, memoKey: identity.memoKey, legacyKey: legacyMemoKey(entry, node, identity) });
    }
    const describeResource = module?.describeResource && ((name: string, since: { finishedAt: string; value: string | undefined }) => module.describeResource!(name, since, ctx));
    const reasons = await explainStaleness({ project: this.project, state: this.state, stats: this.stats, stage: node.name, identity, entry, itemsToRun, mapStage: module?.kind === 'map', describeResource });
    if (failure) reasons.push(failure);
    return reasons.length > 0 ? reasons : ['fingerprint changed'];
  }

  /** What `pipeline status` and `run --dry-run` print: per stage, up to date or why not. */
  async status(targets: string[], force = false): Promise<StageStatus[]> {
    this.reloadLock();
    const result: StageStatus[] = [];
    const stale = new Set<string>();
    const signal = new AbortController().signal;
    const recorded = await readStageRecords(this.state);
    for (const name of selectStages(this.project.graph, targets)) {
      const node = this.project.graph.nodes.get(name)!;
      const staleUp = [...node.upstream].filter((u) => stale.has(u));
      const known = staleUp.length === 0 ? await this.identify(node, signal, recorded) : undefined;
      let reasons: string[];
      if (staleUp.length > 0) reasons = [`upstream ${staleUp.join(', ')} will run first`];
      else if (!known) reasons = ['an input has not been produced yet'];
      else reasons = await this.reasons(node, known.identity, known.params, known.records, recorded, true);
      if (force) reasons.unshift('--force');
      if (reasons.length > 0) stale.add(name);
      result.push({ name, upToDate: reasons.length === 0, reasons });
    }
    await this.stats.flush();
    await this.globs.flush();
    return result;
  }

  async run(options: { targets: string[]; force: boolean; jobs: number; signal: AbortSignal; argv: string }): Promise<RunSummary> {
    const startedAt = Date.now();
    this.reloadLock();
    // The lock and its copy were lost: the state's records stood in, and are written out again.
    if (lockFromState(this.project.paths.lock)) await writeLockFile(this.project.paths.lock, this.lock);
    const order = selectStages(this.project.graph, options.targets);
    const runId = `${new Date().toISOString()}-${randomBytes(3).toString('hex')}`;
    // Recorded when the first stage starts work: a no-op run writes nothing, so closing the database stays free.
    let recorded: Promise<void> | undefined;
    const run: RunRecord = {
      id: runId,
      ensureRecorded: () =>
        (recorded ??= (async () => {
          await cleanUpAfterKilledRuns(this.state, this.project.dataDir, (m) => this.reporter.info(`note: ${m}`));
          await recordMissingEntries(this.state, this.lock);
          await this.state.run('INSERT INTO runs VALUES ($id, now(), NULL, $status, $argv, $pid, $host)', {
            id: runId, status: 'running', argv: options.argv, pid: process.pid, host: hostname(),
          });
        })()),
    };
    const jobs = pLimit(Math.max(1, options.jobs));
    const outcomes = new Map<string, Promise<StageOutcome>>();
    const forced = new Set(options.force ? order : []);
    const stageRecords = await readStageRecords(this.state);
    for (const name of order) {
      const node = this.project.graph.nodes.get(name)!;
      outcomes.set(name, (async () => {
        const ups = await Promise.all([...node.upstream].filter((u) => outcomes.has(u)).map((u) => outcomes.get(u)!));
        const failedUp = ups.find((u) => u.status === 'failed');
        if (failedUp) return { name, status: 'failed' as const, error: `upstream ${failedUp.name} failed` };
        return jobs(() => this.runStage(node, run, stageRecords, forced.has(name), options.signal));
      })());
    }
    const stages = await Promise.all(order.map((n) => outcomes.get(n)!));
    await this.lockWrites;
    await this.stats.flush();
    await this.globs.flush();
    // Items that failed are kept for the next run to retry, but this run did not do all its work.
    const failed = stages.some((s) => s.status === 'failed' || (s.items?.failed ?? 0) > 0);
    const exitCode = options.signal.aborted ? 130 : failed ? 1 : 0;
    if (recorded) {
      await recorded;
      // Versions a killed run wrote for stages this run then skipped are named by no lock entry either.
      await removeOldVersions(this.project, this.project.graph, this.lock);
      await this.state.run('UPDATE runs SET finished_at = now(), status = $status WHERE run_id = $id', {
        id: runId, status: options.signal.aborted ? 'interrupted' : failed ? 'failed' : 'ok',
      });
    }
    return { ok: exitCode === 0, exitCode, durationMs: Date.now() - startedAt, stages };
  }

  private async runStage(node: StageNode, run: RunRecord, recorded: StageRecords, force: boolean, signal: AbortSignal): Promise<StageOutcome> {
    const started = Date.now();
    const record = async (status: string, fingerprint: string, error?: string, items?: LockEntry['items']) => {
      await run.ensureRecorded();
      await recordStageRun(this.state, { run: run.id, stage: node.name, started, status, fingerprint, error, items });
    };
    if (signal.aborted) return { name: node.name, status: 'failed', error: 'interrupted before it started' };
    let fingerprint = '';
    try {
      const known = await this.identify(node, signal, recorded);
      if (!known) throw new StageFailure(node.name, 'an input was not produced');
      const { identity, params, records, staticDeps } = known;
      fingerprint = identity.fingerprint;
      const reasons = force ? ['--force'] : await this.reasons(node, identity, params, records, recorded, false);
      if (reasons.length === 0) {
        this.reporter.stageState?.(node.name, 'skipped');
        return { name: node.name, status: 'skipped' };
      }
      await run.ensureRecorded();
      this.reporter.stageState?.(node.name, 'running');
      this.reporter.info(`${node.name}: running (${reasons.join('; ')})`);
      const dynamicDeps = new Set<string>();
      const module = node.loaded?.module;
      // Before the context is made: its store knows the links of the objects removed as damaged.
      const damaged = module?.kind === 'map' ? await removeDamagedObjects(this.state, this.stats, this.project.dir, node.name, identity.memoKey, (m) => this.reporter.info(`${node.name}: ${m}`)) : undefined;
      const ctx = this.makeContext(node, params, records, signal, dynamicDeps, damaged);
      const executed = await executeStage({
        project: this.project, state: this.state, stats: this.stats, reporter: this.reporter, node, ctx, identity, inputs: records, runId: run.id, force, signal,
        resourceLimit: this.resourceLimit(module?.kind === 'map' ? module.resource : undefined), legacyKey: legacyMemoKey(this.lock.stages[node.name], node, identity),
      });
      const items = executed.items;
      const outs = await withFileHashes(this.project.dir, this.stats, executed.outs);
      const finalIdentity = await withDynamicDeps({ project: this.project, stats: this.stats, state: this.state, stage: node.name, identity, staticDeps, dynamicDeps });
      const previous = this.lock.stages[node.name];
      const unchanged = previous && Object.entries(outs).every(([k, o]) => previous.outs[k]?.hash === o.hash);
      // Counted while the version it replaces is still on disk.
      const changes = await changesOfCommit(this.state, this.project.dir, node.loaded?.module.outputs ?? {}, outs, previous?.outs ?? {});
      await this.commitEntry(node.name, finalIdentity, outs, started, items);
      await removeOldVersions(this.project, this.project.graph, this.lock, { stages: [node.name] });
      await record('ok', finalIdentity.fingerprint, undefined, items);
      await recordTableChanges(this.state, run.id, node.name, changes);
      const itemNote = items ? `: ${items.run} items run, ${items.reused} reused${items.failed ? `, ${items.failed} failed (rerun retries them)` : ''}` : '';
      this.reporter.stageState?.(node.name, 'done');
      this.reporter.info(`${node.name}: done in ${((Date.now() - started) / 1000).toFixed(1)} s${itemNote}${unchanged ? '; outputs unchanged' : ''}`);
      const failures = items?.failed ? await itemFailures(this.state, node.name, identity.memoKey) : undefined;
      return { name: node.name, status: unchanged ? 'cut-off' : 'ran', items: items && { done: items.run, failed: items.failed, reused: items.reused }, ...(failures ? { failures } : {}) };
    } catch (error) {
      if (error instanceof InputError) throw error;
      const interrupted = error instanceof Interrupted;
      // The stage's name goes with every message: the error's own "stage X failed" would say it twice.
      const message = interrupted ? 'interrupted; finished batches are kept' : error instanceof StageFailure ? error.detail : error instanceof Error ? error.message : String(error);
      await record(interrupted ? 'interrupted' : 'failed', fingerprint, message);
      this.reporter.stageState?.(node.name, 'failed');
      this.reporter.info(`${node.name}: ${interrupted ? message : `FAILED: ${message}`}`);
      if (!interrupted && process.env.SDLOOP_DEBUG && error instanceof Error) this.reporter.info(error.stack ?? '');
      return { name: node.name, status: 'failed', error: message };
    }
  }

  private resourceLimit(name: string | undefined): LimitFunction | undefined {
    if (!name) return undefined;
    const limit = this.project.config.resources[name];
    if (!limit) return undefined;
    if (!this.resourceLimits.has(name)) this.resourceLimits.set(name, pLimit(limit));
    return this.resourceLimits.get(name);
  }

  private async commitEntry(name: string, identity: StageIdentity, outs: Record<string, OutputRecord>, started: number, items?: LockEntry['items']): Promise<void> {
    this.lock.stages[name] = {
      fingerprint: identity.fingerprint,
      code: identity.code,
      version: identity.version,
      memo: identity.memoKey,
      params: identity.params,
      resources: identity.resources, observed: identity.observed,
      inputs: identity.inputs,
      deps: { files: identity.deps.files.size, hash: identity.deps.hash },
      outs,
      finished_at: new Date().toISOString(),
      duration_s: Math.round((Date.now() - started) / 10) / 100,
      ...(items ? { items } : {}),
    };
    // The state learns the entry first: a kill before the lock names it leaves the old lock, whose outputs are still there.
    await recordLockEntry(this.state, name, this.lock.stages[name]);
    const snapshot = structuredClone(this.lock);
    this.lockWrites = this.lockWrites.then(() => writeLockFile(this.project.paths.lock, snapshot));
    await this.lockWrites;
  }
}
