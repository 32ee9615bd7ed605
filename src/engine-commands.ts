// The engine's own commands (run, status, dag, sql, gc) as commander commands: each
// declares its arguments and options, so its --help and the checks on argv come from
// one place, and its action returns the exit code through `done`.
import { examples, integerAtLeast, type CliCommand } from './command.js';
import { ProjectSession } from './session.js';
import { loadProject } from './project.js';
import { renderDag } from './dag.js';
import { collectGarbage, describeGcReport } from './gc.js';
import { formatRows, outputFormats, type OutputFormat } from './format.js';
import { ProjectLockedError } from './project-lock.js';
import { describeRunProgress, readRunProgress } from './run-progress.js';
import { selectStages } from './graph.js';
import { runWorker } from './worker.js';

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

export async function withSession<T>(global: Global, json: boolean, work: (s: ProjectSession) => Promise<T>, targets: string[] = []): Promise<T> {
  const session = await ProjectSession.open({ dir: global.dir, set: global.set, json, targets });
  try {
    return await work(session);
  } finally {
    await session.close();
  }
}

const write = (text: string) => process.stdout.write(text);
const writeJson = (value: unknown) => write(JSON.stringify(value, null, 2) + '\n');

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
      if (json) writeJson(statuses);
      else for (const s of statuses) write(s.upToDate ? `${s.name}: up to date, would skip\n` : `${s.name}: would run: ${s.reasons.join('; ')}\n`);
      return 0;
    }
    const summary = await session.run({ targets, force: Boolean(flags.force), jobs: flags.jobs, argv: cli.argv.join(' ') });
    if (json) writeJson(summary);
    return summary.exitCode;
  }, targets);
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

/** While a run holds the state database, status tells what that run is doing. */
async function runInProgressStatus(global: Global, locked: ProjectLockedError, targets: string[], json: boolean): Promise<number> {
  const project = await loadProject(global.dir, global.set);
  const progress = readRunProgress(project.paths.runProgress);
  if (!progress) throw locked;
  const stages = selectStages(project.graph, targets);
  if (json) {
    const { pid, host } = locked.holder;
    const running = { pid, host, started_at: progress.started_at, command: progress.command, updated_at: progress.updated_at };
    writeJson({ running, stages: stages.map((name) => ({ name, ...(progress.stages[name] ?? { state: 'waiting' }) })) });
  } else {
    write(`a run is in progress (pid ${locked.holder.pid} on ${locked.holder.host} since ${progress.started_at}: ${progress.command}); staleness is checked once it ends\n`);
    for (const line of describeRunProgress(progress, stages)) write(`${line}\n`);
  }
  return 0;
}

async function status(global: Global, targets: string[], json: boolean): Promise<number> {
  try {
    return await withSession(global, json, async (session) => {
      const statuses = await session.runner.status(targets);
      if (json) writeJson(statuses);
      else for (const s of statuses) write(s.upToDate ? `${s.name}: up to date\n` : `${s.name}: stale\n${s.reasons.map((r) => `  - ${r}\n`).join('')}`);
      return 0;
    }, targets);
  } catch (error) {
    if (!(error instanceof ProjectLockedError)) throw error;
    return runInProgressStatus(global, error, targets, json);
  }
}

function addStatus(program: CliCommand, cli: EngineCli): void {
  program
    .command('status')
    .summary('up to date, or why not')
    .description('For each stage: up to date, or why not (which param changed and how, which files changed, how many items will run). While a run holds the project, what that run is doing.')
    .argument('[stage...]', 'stages to look at, with what they depend on (default: all)')
    .option('--json', 'print the statuses as JSON')
    .addHelpText('after', examples('pipeline status', 'pipeline status score --set score.thresholds.success=0.9', 'pipeline status --json'))
    .action(async (targets: string[], flags: { json?: boolean }) => cli.done(await status(cli.global(), targets, Boolean(flags.json))));
}

function addDag(program: CliCommand, cli: EngineCli): void {
  const dag = program
    .command('dag')
    .summary('the stage graph')
    .description('Print the stage graph: one line per stage by default, or Mermaid or Graphviz dot.');
  dag
    .addOption(dag.createOption('--mermaid', 'print a Mermaid flowchart').conflicts('dot'))
    .option('--dot', 'print Graphviz dot')
    .addHelpText('after', examples('pipeline dag', 'pipeline dag --mermaid', 'pipeline dag --dot | dot -Tsvg > dag.svg'))
    .action(async (flags: { mermaid?: boolean; dot?: boolean }) => {
      const { dir, set } = cli.global();
      const project = await loadProject(dir, set);
      write(renderDag(project.graph, flags.mermaid ? 'mermaid' : flags.dot ? 'dot' : 'text'));
      cli.done(0);
    });
}

function addSql(program: CliCommand, cli: EngineCli): void {
  const sql = program
    .command('sql')
    .summary('query the tables (each table output is a view by its name)')
    .description('Run one SQL query on the state database, where every table output is a view by its name.')
    .argument('<query>', 'the SQL query');
  sql
    .addOption(sql.createOption('--format <format>', 'how to print the rows').choices(outputFormats).default('table'))
    .addHelpText('after', examples('pipeline sql "select count(*) from images"', 'pipeline sql --format csv "select * from scores" > scores.csv'))
    .action(async (query: string, flags: { format: OutputFormat }) => {
      cli.done(await withSession(cli.global(), true, async (session) => {
        write(formatRows(await session.sql(query), flags.format));
        return 0;
      }));
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
        write(flags.json ? JSON.stringify(report, null, 2) + '\n' : describeGcReport(report));
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
    .addHelpText('after', examples('pipeline worker', 'pipeline worker --stages score --concurrency 2', 'pipeline worker --redis redis://:secret@10.0.0.5:6379'))
    .action(async (flags: { stages?: string[]; concurrency: number; redis?: string; name?: string }) => {
      const { dir, set } = cli.global();
      cli.done(await runWorker({ dir, set, ...flags, log: (m) => process.stderr.write(`${m}\n`) }));
    });
}

export function addEngineCommands(program: CliCommand, cli: EngineCli): void {
  for (const add of [addRun, addStatus, addDag, addSql, addGc, addWorker]) add(program, cli);
}
