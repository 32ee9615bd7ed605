// Running one whole stage: a TypeScript module's run(), or a shell command. Outputs are
// validated, written atomically under names of their own and hashed by content.
import { existsSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { walkFolder } from './glob.js';
import { isInside, removeInside } from './inside.js';
import { hashValue } from './hash.js';
import { StageFailure } from './errors.js';
import { columnsOf } from './table-schema.js';
import { writeTableVersion, type TableRows } from './tables.js';
import type { State } from './state.js';
import type { StatCache } from './stat-cache.js';
import type { MapStage, Row, StageContext, WholeStage } from './stage.js';
import type { LockEntry, OutputRecord } from './lockfile.js';
import type { Project } from './project.js';
import type { StageNode } from './graph.js';
import type { StageIdentity } from './fingerprint.js';
import type { Reporter } from './progress.js';
import type { LimitFunction } from 'p-limit';
import { runMapStage } from './map-executor.js';
import { remoteBatchesFor } from './executor.js';

/** Hash of a file, or of a folder's files and their relative names. */
export async function hashPath(path: string, stats: StatCache): Promise<string | undefined> {
  if (!existsSync(path)) return undefined;
  if (!statSync(path).isDirectory()) return (await stats.hashFiles([path]))[0];
  const { files } = walkFolder(path, { dot: true });
  const hashes = await stats.hashFiles(files.map((f) => join(path, f)));
  return hashValue(files.map((f, i) => [f, hashes[i]]));
}

/** A table output as the stage returned it: rows, or chunks of rows. */
function tableRowsOf(stage: string, name: string, value: unknown): TableRows {
  if (Array.isArray(value) || (typeof value === 'object' && value !== null && Symbol.asyncIterator in value)) return value as TableRows;
  throw new StageFailure(stage, `output "${name}" is a table: return an array of rows (or chunks of rows)`);
}

export async function runWholeStage(options: {
  project: Project;
  state: State;
  stats: StatCache;
  stage: WholeStage;
  ctx: StageContext;
}): Promise<Record<string, OutputRecord>> {
  const { project, state, stats, stage, ctx } = options;
  const produced = await stage.run(ctx);
  const outputs: Record<string, OutputRecord> = {};
  for (const [name, decl] of Object.entries(stage.outputs)) {
    const value = produced[name];
    if (value === undefined) throw new StageFailure(ctx.stage, `run() returned no output "${name}"`);
    if (decl.kind === 'table') {
      const rows = tableRowsOf(ctx.stage, name, value);
      // Each row is checked as it is written: the stage's rows stay as it made them (sharing
      // what they share), and only a chunk of validated copies exists at a time.
      const check = (row: Row, i: number): Row => {
        const parsed = decl.schema.safeParse(row);
        if (parsed.success) return parsed.data as Row;
        const issue = parsed.error.issues[0]!;
        throw new StageFailure(ctx.stage, `${name} row ${i}: ${issue.path.join('.')}: ${issue.message}`);
      };
      const written = await writeTableVersion(state, project.paths.tables, name, columnsOf(decl.schema), rows, { runFacts: decl.runFacts, check });
      outputs[name] = { kind: 'table', path: relative(project.dir, written.path), hash: written.hash, rows: written.rows };
    } else {
      const path = 'path' in value ? resolve(project.dir, value.path) : undefined;
      if (path && !isInside(project.dir, path)) throw new StageFailure(ctx.stage, `output "${name}" at ${path} is outside the project`);
      const hash = path ? await hashPath(path, stats) : undefined;
      if (!path || !hash) throw new StageFailure(ctx.stage, `output "${name}" was not written (expected a file or folder)`);
      outputs[name] = { kind: 'path', path: relative(project.dir, path), hash };
    }
  }
  return outputs;
}

/** A shell command stage: runs in the project folder; its declared outs must exist afterwards. */
export async function runCommandStage(options: {
  project: Project;
  stats: StatCache;
  name: string;
  command: string;
  outs: string[];
  signal: AbortSignal;
  log(line: string): void;
}): Promise<Record<string, OutputRecord>> {
  const { $ } = await import('zx');
  const run = $({ cwd: options.project.dir, quiet: true, nothrow: true, signal: options.signal });
  const result = await run`bash -c ${options.command}`;
  for (const line of result.stdout.split('\n').filter(Boolean)) options.log(line);
  if (result.exitCode !== 0) {
    const tail = result.stderr.trim().split('\n').slice(-10).join('\n');
    throw new StageFailure(options.name, `command exited with code ${result.exitCode}${tail ? `:\n${tail}` : ''}`);
  }
  const outputs: Record<string, OutputRecord> = {};
  for (const out of options.outs) {
    const hash = await hashPath(resolve(options.project.dir, out), options.stats);
    if (!hash) throw new StageFailure(options.name, `the command did not write its out "${out}"`);
    outputs[out] = { kind: 'path', path: out, hash };
  }
  return outputs;
}

/** Runs a stale stage by its kind (a shell command, a map stage locally or on workers, a whole stage) and returns what it wrote. */
export async function executeStage(options: {
  project: Project;
  state: State;
  stats: StatCache;
  reporter: Reporter;
  node: StageNode;
  ctx: StageContext;
  identity: StageIdentity;
  inputs: Record<string, OutputRecord>;
  runId: string;
  force: boolean;
  signal: AbortSignal;
  resourceLimit?: LimitFunction;
  legacyKey?: string;
}): Promise<{ outs: Record<string, OutputRecord>; items?: LockEntry['items'] }> {
  const { project, state, stats, reporter, node, ctx, identity, signal } = options;
  const module = node.loaded?.module;
  if (!module) {
    for (const out of node.config.outs) await removeInside(project.dir, out, `stages.${node.name}.outs`);
    const outs = await runCommandStage({ project, stats, name: node.name, command: node.config.cmd!, outs: node.config.outs, signal, log: (l) => reporter.log(node.name, l) });
    return { outs };
  }
  if (module.kind !== 'map') return { outs: await runWholeStage({ project, state, stats, stage: module, ctx }) };
  const remote = await remoteBatchesFor({
    config: project.config, node, identity, inputs: options.inputs, runId: options.runId, signal,
    log: (m) => reporter.log(node.name, m), workers: (w) => reporter.workers?.(node.name, w),
  });
  const result = await runMapStage({
    project, state, stage: module as MapStage, ctx, memoKey: identity.memoKey, runId: options.runId, force: options.force,
    resourceLimit: options.resourceLimit, legacyKey: options.legacyKey, remote,
  }).finally(() => remote?.close());
  return { outs: result.outputs, items: result.items };
}
