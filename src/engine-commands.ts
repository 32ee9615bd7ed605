// The engine's own commands (run, status, dag, sql, gc) as commander commands: each
// declares its arguments and options, so its --help and the checks on argv come from
// one place, and its action returns the exit code through `done`.
import { examples, integerAtLeast, type CliCommand } from './command.js';
import { ProjectSession } from './session.js';
import { loadProject } from './project.js';
import { projectPaths } from './project-dir.js';
import { dagJson, renderDag } from './dag.js';
import { collectGarbage, describeGcReport } from './gc.js';
import { formatRows, outputFormats, type OutputFormat } from './format.js';
import { ProjectLockedError, staleLockNote } from './project-lock.js';
import { fileSql } from './file-context.js';
import { describeRunProgress, readRunProgress } from './run-progress.js';
import { selectStages } from './graph.js';
import { runSummaryJson, stageStatusJson, writeJsonEnvelope, writeJsonEnvelopeLine } from './json-output.js';
import type { Row } from './stage.js';

export interface Global {
  dir: string;
  set: Record<string, unknown>;
}

/** What an engine command needs from the CLI: the global options, the argv to record, where its exit code goes. */
export interface EngineCli {
  global(): Global;
  argv: string[];
  done(code: number): void;
}

export async function withSession<T>(global: Global, json: boolean, work: (s: ProjectSession) => Promise<T>, targets: string[] = [], mode: 'read' | 'write' | 'cache' = 'write'): Promise<T> {
  const session = await ProjectSession.open({ dir: global.dir, set: global.set, json, targets, mode });
  try {
    return await work(session);
  } finally {
    await session.close();
  }
}

const write = (text: string) => process.stdout.write(text);

interface RunFlags {
  force?: boolean;
  dryRun?: boolean;
  jobs: number;
  json?: boolean;
}

async function runStages(cli: EngineCli, targets: string[], flags: RunFlags): Promise<number> {
  const json = Boolean(flags.json);
  return withSession(cli.global(), json, async (session) => {
    if (flags.dryRun) {
      const statuses = await session.runner.status(targets, Boolean(flags.force));
      if (json) return writeJsonEnvelope('run', 0, { dry_run: true, stages: statuses.map(stageStatusJson) });
      for (const s of statuses) write(s.upToDate ? `${s.name}: up to date, would skip\n` : `${s.name}: would run: ${s.reasons.join('; ')}\n`);
      return 0;
    }
    const summary = await session.run({ targets, force: Boolean(flags.force), jobs: flags.jobs, argv: cli.argv.join(' ') });
    if (json) writeJsonEnvelope('run', summary.exitCode, { dry_run: false, ...runSummaryJson(summary) });
    return summary.exitCode;
  }, targets, flags.dryRun ? 'read' : 'write');
}

function addRun(program: CliCommand, cli: EngineCli): void {
  program
    .command('run')
    .summary('run the stages (and whatever upstream is stale)')
    .description('Run the named stages, or all of them, and whatever upstream is stale. Stages whose code, params and inputs are unchanged are skipped.')
    .argument('[stage...]', 'stages to bring up to date (default: all)')
    .option('--force', 'run the stages even when up to date (every item of a map stage too)')
    .option('--dry-run', 'say what would run and why, and run nothing')
    .option('-j, --jobs <n>', 'independent stages to run at once', integerAtLeast(1), 2)
    .option('--json', 'print the run summary (or, with --dry-run, the statuses) as JSON')
    .addHelpText('after', examples('pipeline run', 'pipeline run score --set score.thresholds.success=0.85', 'pipeline run --dry-run --json'))
    .action(async (targets: string[], flags: RunFlags) => cli.done(await runStages(cli, targets, flags)));
}

interface StatusFlags {
  json?: boolean;
  quiet?: boolean;
}

/** While a run holds the state database, status tells what that run is doing; whether all is up to date is not known until it ends. */
async function runInProgressStatus(global: Global, locked: ProjectLockedError, targets: string[], flags: StatusFlags): Promise<number> {
  const project = await loadProject(global.dir, global.set);
  // The run writes its progress a moment after taking the lock: until then, every stage is waiting.
  const { holder } = locked;
  const progress = readRunProgress(project.paths.runProgress) ?? { pid: holder.pid, started_at: holder.started_at, command: holder.command, updated_at: holder.started_at, stages: {} };
  const stages = selectStages(project.graph, targets);
  if (flags.quiet) return 1;
  if (flags.json) {
    const { pid, host } = locked.holder;
    const running = { pid, host, started_at: progress.started_at, command: progress.command, updated_at: progress.updated_at };
    const states = stages.map((name) => ({ name, ...(progress.stages[name] ?? { state: 'waiting' }), up_to_date: null, reasons: [] }));
    return writeJsonEnvelope('status', 0, { running, stages: states });
  }
  write(`a run is in progress (pid ${locked.holder.pid} on ${locked.holder.host} since ${progress.started_at}: ${progress.command}); staleness is checked once it ends\n`);
  for (const line of describeRunProgress(progress, stages)) write(`${line}\n`);
  return 0;
}

/**
 * Exit 0, or with --quiet 1 when anything is stale (as `make -q`), printing nothing. The
 * hashes it took are kept only where the state may be written: on a project never run or
 * a read-only data folder it writes nothing.
 */
async function status(global: Global, targets: string[], flags: StatusFlags): Promise<number> {
  // Said before the state opens: a killed run may have left it damaged too, and then both are worth knowing.
  const stale = staleLockNote(projectPaths(global.dir).paths.runLock);
  if (stale && !flags.quiet) process.stderr.write(`note: ${stale}\n`);
  try {
    return await withSession(global, Boolean(flags.json || flags.quiet), async (session) => {
      const statuses = await session.runner.status(targets);
      if (flags.quiet) return statuses.every((s) => s.upToDate) ? 0 : 1;
      if (flags.json) return writeJsonEnvelope('status', 0, { running: null, stages: statuses.map(stageStatusJson) });
      for (const s of statuses) write(s.upToDate ? `${s.name}: up to date\n` : `${s.name}: stale\n${s.reasons.map((r) => `  - ${r}\n`).join('')}`);
      return 0;
    }, targets, 'cache');
  } catch (error) {
    if (!(error instanceof ProjectLockedError)) throw error;
    return runInProgressStatus(global, error, targets, flags);
  }
}

function addStatus(program: CliCommand, cli: EngineCli): void {
  const command = program
    .command('status')
    .summary('up to date, or why not')
    .description('For each stage: up to date, or why not (which param changed and how, which files changed, how many items will run). While a run holds the project, what that run is doing.')
    .argument('[stage...]', 'stages to look at, with what they depend on (default: all)');
  command
    .option('--json', 'print the statuses as JSON')
    .addOption(command.createOption('-q, --quiet', 'print nothing; exit 1 when anything is stale (or a run is going), 0 when all is up to date').conflicts('json'))
    .addHelpText('after', examples('pipeline status', 'pipeline status score --set score.thresholds.success=0.9', 'pipeline status --json', 'pipeline status --quiet || pipeline run'))
    .action(async (targets: string[], flags: StatusFlags) => cli.done(await status(cli.global(), targets, flags)));
}

function addDag(program: CliCommand, cli: EngineCli): void {
  const dag = program
    .command('dag')
    .summary('the stage graph')
    .description('Print the stage graph: one line per stage by default, or Mermaid or Graphviz dot.');
  dag
    .addOption(dag.createOption('--mermaid', 'print a Mermaid flowchart').conflicts('dot'))
    .addOption(dag.createOption('--dot', 'print Graphviz dot').conflicts('json'))
    .addOption(dag.createOption('--json', 'print the stages, their outputs and inputs as JSON').conflicts('mermaid'))
    .addHelpText('after', examples('pipeline dag', 'pipeline dag --mermaid', 'pipeline dag --dot | dot -Tsvg > dag.svg', 'pipeline dag --json'))
    .action(async (flags: { mermaid?: boolean; dot?: boolean; json?: boolean }) => {
      const { dir, set } = cli.global();
      const project = await loadProject(dir, set);
      if (flags.json) writeJsonEnvelope('dag', 0, { stages: dagJson(project.graph) });
      else write(renderDag(project.graph, flags.mermaid ? 'mermaid' : flags.dot ? 'dot' : 'text'));
      cli.done(0);
    });
}

/** One SELECT in the sandbox, over the files: works during a run, on a project never run and on a read-only data folder. */
async function readOnlySql(global: Global, query: string, flags: SqlFlags): Promise<number> {
  const project = await loadProject(global.dir, global.set);
  const files = await fileSql(project);
  try {
    return printRows(await files.query(query), flags);
  } finally {
    await files.close();
  }
}

/** Surgery: any statements, on the state database itself, unsandboxed. */
async function writeSql(global: Global, query: string, flags: SqlFlags): Promise<number> {
  process.stderr.write('warning: --write runs the SQL on the state database itself, with no sandbox: a wrong statement can break the project for good (back up data/state.duckdb first)\n');
  return withSession(global, true, async (session) => printRows(await session.sql(query), flags));
}

interface SqlFlags {
  format: OutputFormat;
  json?: boolean;
}

function printRows(rows: Row[], flags: SqlFlags): number {
  if (flags.json) return writeJsonEnvelope('sql', 0, { rows });
  write(formatRows(rows, flags.format));
  return 0;
}

function addSql(program: CliCommand, cli: EngineCli): void {
  const sql = program
    .command('sql')
    .summary('query the tables (each table output, journal and state record table is a view by its name)')
    .description('Run one read-only SQL query (SELECT) over every table output, journal and state record table (runs, stage_runs, loop_rounds, ... as of the last stage commit), each a view by its name. It cannot write, ATTACH, INSTALL or LOAD, or read files outside the project\'s tables, objects and journals, and it works while a run is going. --write runs any statements on the state database itself.')
    .argument('<query>', 'the SQL query');
  sql
    .addOption(sql.createOption('--format <format>', 'how to print the rows (json: the rows alone, as an array)').choices(outputFormats).default('table'))
    .option('--json', 'print the rows in the JSON envelope every command prints with --json')
    .option('--write', 'surgery: run the statements on the state database itself, unsandboxed (not while a run holds it)')
    .addHelpText('after', examples('pipeline sql "select count(*) from images"', 'pipeline sql --format csv "select * from scores" > scores.csv', 'pipeline sql --json "select * from runs"', 'pipeline sql --write "delete from promoted_loras where name = \'x\'"'))
    .action(async (query: string, flags: { format: OutputFormat; json?: boolean; write?: boolean }) => {
      cli.done(await (flags.write ? writeSql : readOnlySql)(cli.global(), query, flags));
    });
}

function addGc(program: CliCommand, cli: EngineCli): void {
  const gc = program
    .command('gc')
    .summary('list (or with --apply delete) memoised results and objects nothing refers to')
    .description('List what no current output refers to: memo rows and parts of old params or code, and stored objects no table mentions. Deletes them only with --apply (old memo rows are what makes changing a param back cheap).');
  gc
    .option('--apply', 'delete them')
    .addOption(gc.createOption('--dry-run', 'only list them (the default)').conflicts('apply'))
    .option('--json', 'print the report as JSON')
    .addHelpText('after', examples('pipeline gc', 'pipeline gc --apply', 'pipeline gc --json'))
    .action(async (flags: { apply?: boolean; json?: boolean }) => {
      cli.done(await withSession(cli.global(), Boolean(flags.json), async (session) => {
        const report = await collectGarbage(session, { apply: Boolean(flags.apply) });
        if (flags.json) return writeJsonEnvelope('gc', 0, { memo_rows: report.memoRows, parts: report.parts, objects: report.objects, versions: report.versions, bytes: report.bytes, applied: report.applied });
        write(describeGcReport(report));
        return 0;
      }));
    });
}

function addWorker(program: CliCommand, cli: EngineCli): void {
  program
    .command('worker')
    .summary('run map-stage batches that `pipeline run` queues on Redis (executor: bullmq)')
    .description('Take the batches of distributed map stages from Redis, run them with this checkout of the project, and send the rows back to the run, which commits them. Needs the same code and params as the run, and the project folder (data/ included) on shared storage.')
    .option('--stages <names>', 'comma-separated map stages to serve (default: those with a bullmq executor)', (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean))
    .option('--concurrency <n>', 'batches at once', integerAtLeast(1), 1)
    .option('--redis <url>', "Redis URL (default: the stage's executor.redis)")
    .option('--name <name>', 'how the run names this worker (default: host:pid)')
    .option('--json', 'print one JSON line once connected (name, stages, redis, concurrency); the log goes to stderr')
    .addHelpText('after', examples('pipeline worker', 'pipeline worker --stages score --concurrency 2', 'pipeline worker --redis redis://:secret@10.0.0.5:6379'))
    .action(async ({ json, ...flags }: { stages?: string[]; concurrency: number; redis?: string; name?: string; json?: boolean }) => {
      const { dir, set } = cli.global();
      // The worker's BullMQ and Arrow are loaded by the one command that needs them.
      const { runWorker } = await import('./worker.js');
      const ready = json ? (serving: Record<string, unknown>) => writeJsonEnvelopeLine('worker', 0, serving) : undefined;
      cli.done(await runWorker({ dir, set, ...flags, log: (m) => process.stderr.write(`${m}\n`), ready }));
    });
}

export function addEngineCommands(program: CliCommand, cli: EngineCli): void {
  for (const add of [addRun, addStatus, addDag, addSql, addGc, addWorker]) add(program, cli);
}
