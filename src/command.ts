// Commands beyond the engine's own (plan, label, loop, report --html, prune...) come from
// modules that pipeline.yaml lists under `commands:`, so the engine stays domain-free.
// A command declares its arguments and options on a commander command; the CLI builds
// its --help and checks argv against them before `run` sees anything.
import type { Command as CliCommand } from 'commander';
import { requireCommonJs } from './commonjs.js';
import { InputError } from './errors.js';
import type { Sql } from './stage.js';

const commander = requireCommonJs('commander') as typeof import('commander');

export type { CliCommand };

export interface RunOptions {
  targets?: string[];
  force?: boolean;
  /** param overrides, dot path -> value, applied on top of pipeline.yaml and --set */
  set?: Record<string, unknown>;
  jobs?: number;
}

/** Items of a map stage that failed with one error: how many, and the keys of the first few. */
export interface ItemFailure {
  error: string;
  count: number;
  items: string[];
}

export interface RunSummary {
  ok: boolean;
  /** 0 ok, 1 a stage or some items failed, 2 bad input, 130 interrupted */
  exitCode: number;
  durationMs: number;
  stages: {
    name: string;
    status: 'ran' | 'skipped' | 'failed' | 'cut-off';
    items?: { done: number; failed: number; reused: number };
    /** the most common errors of the items that failed */
    failures?: ItemFailure[];
    error?: string;
  }[];
}

export interface CommandContext {
  projectDir: string;
  dataDir: string;
  /** pipeline.yaml params with --set applied */
  params: Record<string, unknown>;
  /**
   * SQL where every current table artifact, journal and state record table is a view by
   * its name: on the state database for a command that opens it, else the sandbox's
   * one read-only query at a time (see `query`).
   */
  sql: Sql;
  /**
   * One read-only query (SELECT) in the sandbox: over the tables, the journals and the
   * state records as of the last stage commit; no writes, no files outside the project's
   * tables, objects and journals, no ATTACH, INSTALL or LOAD. For SQL a person wrote.
   */
  query?: Sql;
  /** Current table artifacts: name -> Parquet path and content hash. */
  tables(): Promise<Record<string, { path: string; hash: string }>>;
  /** Run the pipeline as `pipeline run` would, in this process. */
  run(options: RunOptions): Promise<RunSummary>;
  /**
   * Close the state database until the next sql, tables or run: a command that waits
   * (the loop's schedule) holds nothing meanwhile, so every other command works.
   */
  release?(): Promise<void>;
  stdout(text: string): void;
  stderr(text: string): void;
}

/** What `run` gets: the operands in order, and the options as commander parsed them (camelCase keys). */
export interface CommandInput<Options> {
  args: string[];
  options: Options;
}

export interface Command<Options = Record<string, unknown>> {
  name: string;
  /** one line, for `pipeline --help` */
  summary: string;
  /**
   * Declare arguments, options and help text (with an example) on the command the CLI
   * made for it. -C/--dir, -S/--set, -h/--help and -V/--version belong to the CLI.
   */
  configure(cli: CliCommand): void;
  /**
   * 'files': the command reads pipeline.lock, the Parquet tables, the journals and the state
   * snapshot only, never the state database, so it runs while a `pipeline run` holds that
   * and on a read-only data folder (its ctx.sql is the sandbox, its ctx.run refuses).
   * 'state' (the default): the state database is opened at the first sql, tables or run.
   */
  reads?: 'state' | 'files';
  /**
   * Works in a folder with no pipeline.yaml at all (plan, validate): then the CLI offers it
   * from the built-in commands, with the current folder as projectDir, no params but --set,
   * and sql/tables/run refusing. In a project such a command reads files only.
   */
  standalone?: boolean;
  /** Returns the exit code; throw InputError for bad input (exit 2). */
  run(input: CommandInput<Options>, ctx: CommandContext): Promise<number>;
}

export function defineCommand<Options>(command: Command<Options>): Command<Options> {
  return command;
}

/** The "Examples:" section of a command's --help, one `pipeline ...` line each. */
export function examples(...lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;
}

/** An option value parser for whole numbers >= min; commander reports a bad value naming the option. */
export function integerAtLeast(min: number): (value: string) => number {
  return (value) => {
    if (!/^\d+$/.test(value) || Number(value) < min) {
      throw new commander.InvalidArgumentError(min === 0 ? 'expected a whole number >= 0' : `expected a whole number >= ${min}`);
    }
    return Number(value);
  };
}

/**
 * Parse `argv` as the CLI would (the command's own declarations) and run it with `ctx`:
 * bad arguments throw InputError instead of exiting. For testing a command in-process.
 */
export async function invokeCommand<Options>(command: Command<Options>, argv: string[], ctx: CommandContext): Promise<number> {
  const cli = new commander.Command(command.name)
    .exitOverride()
    .configureOutput({ writeOut: (text) => ctx.stdout(text), writeErr: () => undefined });
  command.configure(cli);
  let code = 0;
  cli.action(async () => {
    code = await command.run({ args: cli.args, options: cli.opts() as Options }, ctx);
  });
  try {
    await cli.parseAsync(argv, { from: 'user' });
  } catch (error) {
    if (!(error instanceof commander.CommanderError)) throw error;
    if (error.exitCode === 0) return 0;
    throw new InputError(error.message.replace(/^error: /, ''), { field: 'arguments' });
  }
  return code;
}
