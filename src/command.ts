// Commands beyond the engine's own (plan, label, loop, report --html, prune...) come from
// modules that pipeline.yaml lists under `commands:`, so the engine stays domain-free.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { InputError } from './errors.js';
import type { Sql } from './stage.js';

export interface RunOptions {
  targets?: string[];
  force?: boolean;
  /** param overrides, dot path -> value, applied on top of pipeline.yaml and --set */
  set?: Record<string, unknown>;
  jobs?: number;
}

export interface RunSummary {
  ok: boolean;
  /** 0 ok, 1 a stage failed, 2 bad input, 130 interrupted */
  exitCode: number;
  stages: { name: string; status: 'ran' | 'skipped' | 'failed' | 'cut-off'; items?: { done: number; failed: number; reused: number }; error?: string }[];
}

export interface CommandContext {
  projectDir: string;
  dataDir: string;
  /** pipeline.yaml params with --set applied */
  params: Record<string, unknown>;
  /** SQL on the state database, where every current table artifact is a view by its name. */
  sql: Sql;
  /** Current table artifacts: name -> Parquet path and content hash. */
  tables(): Promise<Record<string, { path: string; hash: string }>>;
  /** Run the pipeline as `pipeline run` would, in this process. */
  run(options: RunOptions): Promise<RunSummary>;
  stdout(text: string): void;
  stderr(text: string): void;
}

export interface Command {
  name: string;
  summary: string;
  usage: string;
  /**
   * 'files': the command reads pipeline.lock, the Parquet tables and the journals only, never
   * the state database, so it runs while a `pipeline run` holds that (its ctx.run refuses).
   */
  reads?: 'state' | 'files';
  /** Returns the exit code; throw InputError for bad arguments (exit 2). */
  run(args: string[], ctx: CommandContext): Promise<number>;
}

export function defineCommand(command: Command): Command {
  return command;
}

/** parseArgs for a command: an unknown option or a missing value is bad input (exit 2), with the usage when given. */
export function parseCommandArgs<T extends ParseArgsConfig>(config: T, usage?: string): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (error) {
    if (!String((error as NodeJS.ErrnoException).code).startsWith('ERR_PARSE_ARGS')) throw error;
    const message = (error as Error).message;
    throw new InputError(usage ? `${message}; usage: ${usage}` : message, { field: 'arguments' });
  }
}
