// An open project: config, state database, stat cache and runner, plus the
// CommandContext that extension commands get. Opened once per CLI invocation.
import { InputError, pathFromHere, shownPath } from './errors.js';
import { applyOverrides } from './params.js';
import { unknownParamPath } from './param-schema.js';
import { checkStageInputs, loadProject, type Project } from './project.js';
import { selectStages } from './graph.js';
import { State, StateInUseError, queryRows } from './state.js';
import { StatCache } from './stat-cache.js';
import { Runner } from './runner.js';
import { standInForLostLock } from './lock-records.js';
import { acquireProjectLock, holdsProjectLock, liveRunHolder, ProjectLockedError } from './project-lock.js';
import { SnapshotWriter, exportRecordTables, exportRunMonths, exportSnapshot, runMonth, snapshotDir } from './state-snapshot.js';
import { existsSync } from 'node:fs';
import { tableViews } from './tables.js';
import { journalViews } from './journal.js';
import { createReporter, recordingTo, type Reporter } from './progress.js';
import { RunProgressFile } from './run-progress.js';
import { describeRun } from './run-summary.js';
import { join } from 'node:path';
import type { CommandContext, RunOptions, RunSummary } from './command.js';
import type { Row } from './stage.js';
import { objectsAsLeft, recordObjectsChecked } from './memo-objects.js';

export interface SessionOptions {
  dir: string;
  set: Record<string, unknown>;
  json: boolean;
  /** stage names the command will act on, checked before anything is written */
  targets?: string[];
  /** how the state opens (see StateOpenOptions): 'cache' for status, 'read' for a dry run */
  mode?: 'read' | 'write' | 'cache';
}

/** How long a writer waits for readers: status holds the state open read-only for a moment. */
const readerWaitMs = 5000;

/** A --set of a param nothing reads would change nothing, silently: a typo, most likely. */
export function checkOverrides(project: Project, set: Record<string, unknown>): void {
  const readers = [...project.graph.nodes.values()].map((node) => ({ paths: node.config.params, schema: node.loaded?.module.params }));
  const unknown = unknownParamPath(Object.keys(set), project.config.params, readers);
  if (!unknown) return;
  const hint = unknown.suggestion ? `; did you mean ${unknown.suggestion}?` : '';
  throw new InputError(`${unknown.path}: no stage reads this param and pipeline.yaml's params do not hold it${hint}`, { field: '--set' });
}

export class ProjectSession {
  private statusRunner?: Runner;
  /** Readers see the state's records through a snapshot: the months of runs this session made, renewed at each stage commit. */
  private readonly runMonths = new Set<string>();
  /** set by SQL on the state, which may have changed any record */
  private recordsChanged = false;
  /** a stage ran: the run's own rows and whatever record tables its stages keep need copying at close */
  private ranStages = false;
  private readonly snapshots: SnapshotWriter;

  private constructor(
    readonly project: Project,
    readonly state: State,
    readonly reporter: Reporter,
    private readonly stats: StatCache,
  ) {
    this.snapshots = new SnapshotWriter(() => exportRunMonths(state, project.dataDir, [...this.runMonths]), (m) => reporter.info(`warning: ${m}`));
  }

  /** The runner for status and the current outputs; each run gets its own, recording its progress. */
  get runner(): Runner {
    return (this.statusRunner ??= new Runner(this.project, this.state, this.stats, this.reporter));
  }

  static async open(options: SessionOptions): Promise<ProjectSession> {
    const project = await loadProject(options.dir, options.set);
    checkOverrides(project, options.set);
    await checkStageInputs(project, selectStages(project.graph, options.targets ?? []));
    return ProjectSession.onProject(project, options);
  }

  /** Open the state of a loaded project: a run holding it is reported as such, a reader holding it waited for. */
  static async onProject(project: Project, options: Pick<SessionOptions, 'json' | 'mode'>): Promise<ProjectSession> {
    // Under its own lock a command waits for readers like any writer; another's run will not end soon.
    const ownLock = holdsProjectLock(project.paths.runLock);
    const running = !ownLock && liveRunHolder(project.paths.runLock);
    const state = await State.open(project.paths.state, { mode: options.mode, lockWaitMs: running ? 0 : readerWaitMs, shownAs: shownPath(project.dir, project.paths.state) }).catch((error: Error) => {
      const holder = error instanceof StateInUseError && !ownLock ? liveRunHolder(project.paths.runLock) : undefined;
      throw holder ? new ProjectLockedError(holder, shownPath(project.dir, project.paths.runLock)) : error;
    });
    await standInForLostLock(project.paths.lock, state);
    const stats = StatCache.open(state, project.paths.objects);
    // --json owns stdout; what happens still goes to stderr, as plain lines.
    const reporter = createReporter(process.stderr.isTTY && !options.json ? 'tty' : 'plain');
    return new ProjectSession(project, state, reporter, stats);
  }

  /** Run under the project lock, then say how it went in a few lines on stderr. */
  async run(options: RunOptions & { argv: string }): Promise<RunSummary> {
    const summary = await this.runLocked(options);
    for (const line of describeRun(summary)) process.stderr.write(`${line}\n`);
    return summary;
  }

  /** SIGINT stops after the batches in flight. */
  private async runLocked(options: RunOptions & { argv: string }): Promise<RunSummary> {
    const lock = acquireProjectLock(this.project.paths.runLock, options.argv, this.project.dir);
    if (lock.staleNote) this.reporter.info(`note: ${lock.staleNote}`);
    const controller = new AbortController();
    const onSigint = () => {
      if (controller.signal.aborted) process.exit(130);
      this.reporter.info('interrupt: finishing the batches in flight (Ctrl-C again to quit now)');
      controller.abort();
    };
    process.on('SIGINT', onSigint);
    process.on('SIGTERM', onSigint);
    let progress: RunProgressFile | undefined;
    try {
      progress = new RunProgressFile(this.project.paths.runProgress, { command: options.argv });
      const set = options.set ?? {};
      checkOverrides(this.project, set);
      const project = Object.keys(set).length > 0 ? { ...this.project, params: applyOverrides(this.project.params, set) } : this.project;
      this.runMonths.add(runMonth(new Date().toISOString()));
      const runner = new Runner(project, this.state, this.stats, this.snapshotting(recordingTo(progress, this.reporter)));
      const summary = await runner.run({ targets: options.targets ?? [], force: options.force ?? false, jobs: options.jobs ?? 2, signal: controller.signal, argv: options.argv });
      // Every stage checked its memo hits' objects: status need not stat them again until a folder changes.
      if (summary.ok && !options.targets?.length && !(await objectsAsLeft(this.state, this.project.paths.objects))) {
        await recordObjectsChecked(this.state, this.project.paths.objects);
      }
      return summary;
    } finally {
      process.off('SIGINT', onSigint);
      process.off('SIGTERM', onSigint);
      this.reporter.stop();
      progress?.remove();
      lock.release();
    }
  }

  /** Readers see each stage's records once it committed: this month's runs are copied after every stage that ran. */
  private snapshotting(reporter: Reporter): Reporter {
    return {
      ...reporter,
      stageState: (stage, state) => {
        reporter.stageState?.(stage, state);
        if (state === 'done' || state === 'failed') {
          this.runMonths.add(runMonth(new Date().toISOString()));
          this.ranStages = true;
          void this.snapshots.request();
        }
      },
    };
  }

  /** Current table artifacts: name -> absolute Parquet path and content hash. */
  async tables(): Promise<Record<string, { path: string; hash: string }>> {
    return Object.fromEntries(
      Object.entries(this.runner.currentOutputs())
        .filter(([, o]) => o.kind === 'table')
        .map(([name, o]) => [name, { path: `${this.project.dir}/${o.path}`, hash: o.hash }]),
    );
  }

  /** Every current table artifact and every journal as a view by its name; any statement, so readers' copy of the records is renewed at close. */
  async sql<T = Row>(query: string, params?: Record<string, unknown>): Promise<T[]> {
    if (this.state.writable) this.recordsChanged = true;
    const views = tableViews(Object.entries(await this.tables()).map(([name, t]) => [name, t.path])) + (await journalViews(this.project.dataDir));
    return this.state.exclusive(async (c) => {
      if (views) await c.run(views);
      try {
        return await queryRows<T>(c, query, params);
      } catch (error) {
        throw new InputError(`SQL: ${(error as Error).message}`, { field: 'query' });
      }
    });
  }

  /** Copy the records for readers when something may have changed them, then close the state. */
  async close(): Promise<void> {
    try {
      await this.snapshots.settled();
      // A state from before readers had a copy gets its first one from whichever command writes next.
      const firstCopy = this.state.writable && existsSync(this.project.paths.state) && !existsSync(snapshotDir(this.project.dataDir));
      if (this.recordsChanged || firstCopy) await exportSnapshot(this.state, this.project.dataDir);
      else if (this.ranStages) {
        await exportRecordTables(this.state, this.project.dataDir);
        await exportRunMonths(this.state, this.project.dataDir, [...this.runMonths]);
      }
    } catch (error) {
      // What the command did stands; only readers see older records until the next copy.
      process.stderr.write(`warning: could not copy the state's records for readers: ${(error as Error).message}\n`);
    } finally {
      await this.state.close();
    }
  }
}

/** What a standalone command gets in a folder that is no project: files only, no state. */
export function folderContext(dir: string, set: Record<string, unknown>): CommandContext {
  const none = async (): Promise<never> => {
    throw new InputError(`no pipeline.yaml in ${pathFromHere(dir)} or any folder above it; this needs a project (run inside one or pass -C DIR)`);
  };
  return {
    projectDir: dir, dataDir: join(dir, 'data'), params: applyOverrides({}, set),
    sql: none, tables: none, run: none,
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
  };
}
