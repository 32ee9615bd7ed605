// `pipeline <command>`: the engine's own commands (run, status, dag, sql, gc) and the
// ones a project adds through pipeline.yaml `commands:`, on commander. Exit codes: 0 ok,
// 1 a stage failed, 2 bad input, 130 interrupted.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { requireCommonJs } from './commonjs.js';
import { InputError, InputErrors } from './errors.js';
import { parseSetArg } from './params.js';
import { loadCommands, loadProject, readConfig } from './project.js';
import { fileCommandContext, fileSql } from './file-context.js';
import { loadCommandModule } from './modules.js';
import { folderContext } from './session.js';
import { ProjectLockedError } from './project-lock.js';
import { examples, type CliCommand, type Command, type CommandInput } from './command.js';
import { projectDirFor } from './project-dir.js';
import { inputErrorsJson, writeJsonEnvelope } from './json-output.js';
import { onDemandContext } from './state-context.js';
import { addEngineCommands, type EngineCli, type Global } from './engine-commands.js';

const commander = requireCommonJs('commander') as typeof import('commander');

const projectGroup = 'Project commands (pipeline.yaml commands:):';

/** package.json sits above src/ when run from source and above dist/src/ when built. */
function packageVersion(): string {
  for (const up of ['../package.json', '../../package.json']) {
    const file = fileURLToPath(new URL(up, import.meta.url));
    if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  }
  return 'unknown';
}

function collectSet(value: string, previous: Record<string, unknown> = {}): Record<string, unknown> {
  const [path, parsed] = parseSetArg(value);
  return { ...previous, [path]: parsed };
}

/** -C and --set belong to the program, so commander takes them before or after the command. */
function addGlobalOptions(cmd: CliCommand): CliCommand {
  return cmd
    .option('-C, --dir <dir>', 'the project folder holding pipeline.yaml (default: the nearest one at or above this folder)')
    .option('-S, --set <PATH=VALUE>', 'override a param for this command, VALUE parsed as YAML (repeatable)', collectSet);
}

/**
 * The command name and project folder, read before the program is built: project
 * commands are known only once pipeline.yaml in that folder is read.
 */
function peek(argv: string[]): { name: string | undefined; dir: string; bare: boolean; versionOnly: boolean } {
  const fallback = projectDirFor(undefined);
  const scan = addGlobalOptions(new commander.Command()).helpOption(false).allowUnknownOption().exitOverride()
    .configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  try {
    const { operands, unknown } = scan.parseOptions(argv);
    const asked = (...flags: string[]) => unknown.some((arg) => flags.includes(arg));
    return {
      name: operands[0],
      dir: projectDirFor(scan.opts<{ dir?: string }>().dir),
      bare: operands.length === 0 && unknown.length === 0,
      versionOnly: operands.length === 0 && asked('-V', '--version') && !asked('-h', '--help'),
    };
  } catch (error) {
    // A missing option value: the program's own parse reports it, with the usage.
    if (error instanceof commander.CommanderError) return { name: undefined, dir: fallback, bare: false, versionOnly: false };
    throw error;
  }
}

function buildProgram(): CliCommand {
  // Settings first: commander copies them into each command as it is created.
  const program = new commander.Command('pipeline')
    .usage('[-C DIR] <command> [options]')
    .description('A Make-like, file-based DAG runner: runs the stages of pipeline.yaml whose code, params or inputs changed.')
    .version(packageVersion(), '-V, --version', 'print the version')
    .exitOverride()
    .showSuggestionAfterError()
    .showHelpAfterError('(add --help for usage)')
    .configureHelp({ showGlobalOptions: true })
    .addHelpText('after', `${examples('pipeline run', 'pipeline -C my-project status', 'pipeline help run')}
Exit codes: 0 ok, 1 a stage failed, 2 bad input, 130 interrupted.\n`);
  return addGlobalOptions(program);
}

/** Project commands, or in a folder with no pipeline.yaml the built-in ones that work without one. */
interface CommandSet {
  commands: Command[];
  inProject: boolean;
}

function addProjectCommand(program: CliCommand, command: Command, set: CommandSet, engine: EngineCli): void {
  if (program.commands.some((c) => c.name() === command.name)) {
    throw new InputError(`a command module defines "${command.name}", which is already a command`, { field: 'commands' });
  }
  const cli = program.command(command.name).summary(command.summary).description(command.summary).helpGroup(projectGroup);
  command.configure(cli);
  cli.action(async () => {
    const input = { args: cli.args, options: cli.opts() };
    const { dir, set: overrides } = engine.global();
    engine.done(set.inProject ? await runProjectCommand(command, input, engine.global(), engine.argv) : await command.run(input, folderContext(dir, overrides)));
  });
}

/**
 * A command that reads only files (pipeline.lock, Parquet, journals, the state snapshot),
 * and a standalone one, which needs no project at all, run beside a run and touch no
 * state; the others open the state when they first use it.
 */
async function runProjectCommand(command: Command, input: CommandInput<Record<string, unknown>>, global: Global, argv: string[]): Promise<number> {
  if (command.reads !== 'files' && !command.standalone) {
    const opened = await onDemandContext({ dir: global.dir, set: global.set, argv: argv.join(' ') });
    try {
      return await command.run(input, opened.ctx);
    } finally {
      await opened.close();
    }
  }
  const project = await loadProject(global.dir, global.set);
  const files = await fileSql(project);
  try {
    return await command.run(input, fileCommandContext(project, files));
  } finally {
    await files.close();
  }
}

async function projectCommands(dir: string): Promise<CommandSet> {
  const root = resolve(dir);
  if (!existsSync(join(root, 'pipeline.yaml'))) {
    const builtin = await loadCommandModule('commands', root, { file: root, field: 'commands' });
    return { commands: builtin.filter((c) => c.standalone), inProject: false };
  }
  const { parsed, config } = await readConfig(root);
  return { commands: await loadCommands({ dir: root, file: parsed.path, config }), inProject: true };
}

export async function dispatch(argv: string[]): Promise<number> {
  let exitCode = 0;
  const program = buildProgram();
  const global = (): Global => {
    const { dir, set } = program.opts<{ dir?: string; set?: Global['set'] }>();
    return { dir: projectDirFor(dir), set: set ?? {} };
  };
  const cli: EngineCli = { global, argv, done: (code) => (exitCode = code) };
  addEngineCommands(program, cli);
  const { name, dir, bare, versionOnly } = peek(argv);
  // The version needs no project: its command modules (and what they import) are not loaded for it.
  if (!versionOnly && (name === undefined || !program.commands.some((c) => c.name() === name))) {
    // For the overall help a project that does not load only hides its commands; for a
    // command by name its error is the answer.
    const extra = await projectCommands(dir).catch((error: unknown): CommandSet => {
      if (name === undefined || name === 'help') return { commands: [], inProject: true };
      throw error;
    });
    for (const command of extra.commands) addProjectCommand(program, command, extra, cli);
  }
  if (bare) {
    program.outputHelp();
    return 0;
  }
  await program.parseAsync(argv, { from: 'user' });
  return exitCode;
}

/** The command and project an error belongs to; argv that cannot be read (a bad --set) names neither. */
function peekAfterError(argv: string[]): { name: string | undefined; dir: string } {
  try {
    return peek(argv);
  } catch {
    return { name: undefined, dir: projectDirFor(undefined) };
  }
}

/** An error as the exit code it means and the lines that say it. */
function describeError(error: unknown): { code: number; errors: InputError[] } {
  if (error instanceof InputError || error instanceof InputErrors) return { code: 2, errors: error instanceof InputErrors ? error.errors : [error] };
  if (error instanceof ProjectLockedError) return { code: 1, errors: [new InputError(error.message)] };
  const message = error instanceof Error ? (process.env.SDLOOP_DEBUG ? (error.stack ?? error.message) : error.message) : String(error);
  return { code: 1, errors: [new InputError(message)] };
}

export async function main(argv: string[]): Promise<number> {
  try {
    return await dispatch(argv);
  } catch (error) {
    // With --json a script reads stdout: the failure is in the same envelope as a result.
    const { name, dir } = peekAfterError(argv);
    const json = argv.includes('--json') ? (name ?? 'pipeline') : undefined;
    if (error instanceof commander.CommanderError) {
      // commander has printed its message already; help and --version end this way too.
      if (error.exitCode === 0) return 0;
      if (json) writeJsonEnvelope(json, 2, inputErrorsJson([new InputError(error.message.replace(/^error: /, ''), { field: 'arguments' })]));
      return 2;
    }
    const { code, errors } = describeError(error);
    for (const e of errors) process.stderr.write(`error: ${e.format(dir)}\n`);
    if (json) writeJsonEnvelope(json, code, inputErrorsJson(errors));
    return code;
  }
}
