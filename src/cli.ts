// `pipeline <command>`: the engine's own commands (run, status, dag, sql, gc) and the
// ones a project adds through pipeline.yaml `commands:`. Exit codes: 0 ok, 1 a stage
// failed, 2 bad input, 130 interrupted.
import type { ParseArgsConfig } from 'node:util';
import { InputError, InputErrors } from './errors.js';
import { parseSetArg } from './params.js';
import { ProjectSession } from './session.js';
import { loadCommands, loadProject, type Project } from './project.js';
import { fileCommandContext, fileSql } from './file-context.js';
import { renderDag } from './dag.js';
import { collectGarbage } from './gc.js';
import { formatRows, outputFormats, type OutputFormat } from './format.js';
import { ProjectLockedError } from './project-lock.js';
import { describeRunProgress, readRunProgress } from './run-progress.js';
import { selectStages } from './graph.js';
import { parseCommandArgs, type Command } from './command.js';

const usage = `Usage: pipeline [-C DIR] <command> [options]

Commands:
  run [stage...]     run the stages (and whatever upstream is stale)
                     --force, --dry-run, --jobs N, --set a.b=VALUE, --json
  status [stage...]  up to date, or why not (--json, --set)
  dag                the stage graph (--mermaid | --dot)
  sql "<query>"      query the tables (each table output is a view by its name)
                     --format table|csv|json
  gc                 delete memoised results and objects nothing refers to
  help               this text

Global options: -C DIR (the project folder, default .), --set PATH=VALUE (repeatable)
Each command takes --help.`;

interface Global {
  dir: string;
  set: Record<string, unknown>;
  rest: string[];
}

/** Pull -C and --set out of argv wherever they are; the rest goes to the command. */
function splitGlobal(argv: string[]): Global {
  const global: Global = { dir: '.', set: {}, rest: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-C' || arg === '--dir') global.dir = argv[++i] ?? '.';
    else if (arg === '--set' || arg === '-S') Object.assign(global.set, Object.fromEntries([parseSetArg(argv[++i] ?? '')]));
    else if (arg.startsWith('--set=')) Object.assign(global.set, Object.fromEntries([parseSetArg(arg.slice(6))]));
    else global.rest.push(arg);
  }
  return global;
}

function parse<O extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: O) {
  return parseCommandArgs({ args, options, allowPositionals: true, strict: true });
}

async function withSession<T>(global: Global, json: boolean, work: (s: ProjectSession) => Promise<T>, targets: string[] = []): Promise<T> {
  const session = await ProjectSession.open({ dir: global.dir, set: global.set, json, targets });
  try {
    return await work(session);
  } finally {
    await session.close();
  }
}

async function runCommand(global: Global, args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    force: { type: 'boolean' }, 'dry-run': { type: 'boolean' }, jobs: { type: 'string', short: 'j' }, json: { type: 'boolean' },
  });
  const jobs = values.jobs === undefined ? 2 : Number(values.jobs);
  if (!Number.isInteger(jobs) || jobs < 1) throw new InputError(`--jobs expects a positive integer, got "${values.jobs}"`, { field: '--jobs' });
  const json = Boolean(values.json);
  return withSession(global, json, async (session) => {
    if (values['dry-run']) {
      const statuses = await session.runner.status(positionals, Boolean(values.force));
      if (json) process.stdout.write(JSON.stringify(statuses, null, 2) + '\n');
      else for (const s of statuses) process.stdout.write(s.upToDate ? `${s.name}: up to date, would skip\n` : `${s.name}: would run: ${s.reasons.join('; ')}\n`);
      return 0;
    }
    const summary = await session.run({ targets: positionals, force: Boolean(values.force), jobs, argv: ['run', ...args].join(' ') });
    if (json) process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
    return summary.exitCode;
  }, positionals);
}

async function statusCommand(global: Global, args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { json: { type: 'boolean' } });
  try {
    return await withSession(global, Boolean(values.json), async (session) => {
      const statuses = await session.runner.status(positionals);
      if (values.json) process.stdout.write(JSON.stringify(statuses, null, 2) + '\n');
      else for (const s of statuses) process.stdout.write(s.upToDate ? `${s.name}: up to date\n` : `${s.name}: stale\n${s.reasons.map((r) => `  - ${r}\n`).join('')}`);
      return 0;
    }, positionals);
  } catch (error) {
    if (!(error instanceof ProjectLockedError)) throw error;
    return runInProgressStatus(global, error, positionals, Boolean(values.json));
  }
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
    const perStage = stages.map((name) => ({ name, ...(progress.stages[name] ?? { state: 'waiting' }) }));
    process.stdout.write(JSON.stringify({ running, stages: perStage }, null, 2) + '\n');
  } else {
    process.stdout.write(`a run is in progress (pid ${locked.holder.pid} on ${locked.holder.host} since ${progress.started_at}: ${progress.command}); staleness is checked once it ends\n`);
    for (const line of describeRunProgress(progress, stages)) process.stdout.write(`${line}\n`);
  }
  return 0;
}

async function sqlCommand(global: Global, args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { format: { type: 'string', default: 'table' } });
  const format = values.format as OutputFormat;
  if (!outputFormats.includes(format)) throw new InputError(`--format expects one of ${outputFormats.join(', ')}`, { field: '--format' });
  if (positionals.length !== 1) throw new InputError('sql expects one query, e.g. pipeline sql "select count(*) from images"', { field: 'query' });
  return withSession(global, true, async (session) => {
    process.stdout.write(formatRows(await session.sql(positionals[0]!), format));
    return 0;
  });
}

async function runOnFiles(command: Command, args: string[], project: Project): Promise<number> {
  const files = await fileSql(project);
  try {
    return await command.run(args, fileCommandContext(project, files.sql));
  } finally {
    await files.close();
  }
}

async function projectCommands(global: Global): Promise<Command[]> {
  try {
    return await loadCommands(await loadProject(global.dir, global.set));
  } catch {
    return [];
  }
}

export async function dispatch(argv: string[]): Promise<number> {
  const global = splitGlobal(argv);
  const [command, ...args] = global.rest;
  const engineCommands = ['run', 'status', 'dag', 'sql', 'gc'];
  if (command && engineCommands.includes(command) && (args.includes('--help') || args.includes('-h'))) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  switch (command) {
    case undefined:
    case 'help':
    case '--help':
    case '-h': {
      const extra = await projectCommands(global);
      const listed = extra.map((c) => `  ${c.name.padEnd(17)}  ${c.summary}\n`).join('');
      process.stdout.write(`${usage}\n${listed ? `\nProject commands (pipeline.yaml commands:):\n${listed}` : ''}`);
      return 0;
    }
    case 'run':
      return runCommand(global, args);
    case 'status':
      return statusCommand(global, args);
    case 'dag': {
      const { values } = parse(args, { mermaid: { type: 'boolean' }, dot: { type: 'boolean' } });
      const project = await loadProject(global.dir, global.set);
      process.stdout.write(renderDag(project.graph, values.mermaid ? 'mermaid' : values.dot ? 'dot' : 'text'));
      return 0;
    }
    case 'sql':
      return sqlCommand(global, args);
    case 'gc':
      return withSession(global, false, async (session) => {
        process.stdout.write(await collectGarbage(session));
        return 0;
      });
    default: {
      const project = await loadProject(global.dir, global.set);
      const found = (await loadCommands(project)).find((c) => c.name === command);
      if (!found) throw new InputError(`unknown command "${command}" (see pipeline help)`, { field: 'command' });
      if (args.includes('--help')) {
        process.stdout.write(`${found.usage}\n`);
        return 0;
      }
      if (found.reads === 'files') return runOnFiles(found, args, project);
      return withSession(global, false, (session) => found.run(args, session.commandContext()));
    }
  }
}

export async function main(argv: string[]): Promise<number> {
  try {
    return await dispatch(argv);
  } catch (error) {
    if (error instanceof InputError || error instanceof InputErrors) {
      const errors = error instanceof InputErrors ? error.errors : [error];
      for (const e of errors) process.stderr.write(`error: ${e.format()}\n`);
      return 2;
    }
    if (String((error as NodeJS.ErrnoException)?.code ?? '').startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`error: ${(error as Error).message}\n`);
      return 2;
    }
    if (error instanceof ProjectLockedError) {
      process.stderr.write(`error: ${error.message}\n`);
      return 1;
    }
    process.stderr.write(`error: ${error instanceof Error ? (process.env.SDLOOP_DEBUG ? error.stack : error.message) : String(error)}\n`);
    return 1;
  }
}
