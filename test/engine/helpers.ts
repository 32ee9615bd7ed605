// A throwaway project per test: pipeline.yaml and .mjs stage modules copied from
// test/fixtures/engine into a fresh tmp dir, driven through the real CLI as a child
// process, so the tests see exactly what a user sees (exit code, stdout, stderr, files).
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const fixtureDir = join(repoRoot, 'test', 'fixtures', 'engine');
const cli = join(repoRoot, 'bin', 'pipeline.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** One stage of `status --json` (README "JSON output"). */
export interface StageStatus {
  name: string;
  state: string;
  up_to_date: boolean | null;
  reasons: string[];
}

/** What every command prints with --json. */
export interface JsonEnvelope {
  command: string;
  ok: boolean;
  exit_code: number;
}

export interface RunSummary extends JsonEnvelope {
  duration_s: number;
  stages: {
    name: string;
    status: 'ran' | 'skipped' | 'cut-off' | 'failed';
    items?: { done: number; failed: number; reused: number };
    failures?: { error: string; count: number; items: string[] }[];
    error?: string;
  }[];
}

export class TestProject {
  private constructor(readonly dir: string) {}

  /** The fixture project (files -> upper, plus a cmd stage) with `inputs` as in/<name>.txt. */
  static create(inputs: Record<string, string> = { 'a.txt': 'alpha\n', 'b.txt': 'beta\n' }): TestProject {
    const dir = mkdtempSync(join(tmpdir(), 'sdloop-engine-'));
    for (const file of readdirSync(fixtureDir)) cpSync(join(fixtureDir, file), join(dir, file));
    symlinkSync(join(repoRoot, 'node_modules'), join(dir, 'node_modules'), 'dir');
    const project = new TestProject(dir);
    for (const [name, text] of Object.entries(inputs)) project.write(`in/${name}`, text);
    return project;
  }

  /** A copy of this project, state and outputs included (cheaper than running it again). */
  clone(): TestProject {
    const dir = mkdtempSync(join(tmpdir(), 'sdloop-engine-'));
    cpSync(this.dir, dir, { recursive: true, verbatimSymlinks: true });
    return new TestProject(dir);
  }

  path(rel: string): string {
    return join(this.dir, rel);
  }

  write(rel: string, text: string): void {
    mkdirSync(dirname(this.path(rel)), { recursive: true });
    writeFileSync(this.path(rel), text);
  }

  read(rel: string): string {
    return readFileSync(this.path(rel), 'utf8');
  }

  bytes(rel: string): Buffer {
    return readFileSync(this.path(rel));
  }

  /** Where pipeline.lock says an output lives now (project-relative): outputs get a new name per version. */
  outputPath(output: string): string {
    const match = new RegExp(`^ {6}${output}:\\n(?: {8}\\w+: .*\\n)*? {8}path: (.+)$`, 'm').exec(this.read('pipeline.lock'));
    if (!match) throw new Error(`pipeline.lock records no output ${output}`);
    return match[1]!;
  }

  exists(rel: string): boolean {
    return existsSync(this.path(rel));
  }

  remove(rel: string): void {
    rmSync(this.path(rel), { recursive: true, force: true });
  }

  /** Start `pipeline -C dir ...args` without waiting (for the kill and lock tests). */
  spawn(args: string[], env: Record<string, string> = {}): ChildProcess {
    return spawn(process.execPath, [cli, '-C', this.dir, ...args], {
      env: { ...process.env, ...env, SDLOOP_DEBUG: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  }

  pipeline(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
    const child = this.spawn(args, env);
    return finished(child);
  }

  /** `run --json`: the run summary, with stderr kept for messages. */
  run(args: string[] = [], env: Record<string, string> = {}): Promise<RunSummary & { stderr: string; code: number }> {
    return runSummary((a) => this.pipeline(a, env), args);
  }

  status(args: string[] = []): Promise<Record<string, StageStatus>> {
    return stageStatuses((a) => this.pipeline(a), args);
  }

  sql<T = Record<string, unknown>>(query: string): Promise<T[]> {
    return sqlRows<T>((a) => this.pipeline(a), query);
  }

  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function finished(child: ChildProcess): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolveResult, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolveResult({ code: code ?? (signal ? 128 : -1), stdout, stderr }));
  });
}

/** Poll until `check` holds; the tests that race a child process use it instead of sleeps. */
export async function waitFor(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function stageOf(summary: RunSummary, name: string): RunSummary['stages'][number] {
  const stage = summary.stages.find((s) => s.name === name);
  if (!stage) throw new Error(`no stage ${name} in the run summary`);
  return stage;
}

type Pipeline = (args: string[]) => Promise<CliResult>;

/** `run --json`: the run summary, with stderr kept for messages. */
export async function runSummary(pipeline: Pipeline, args: string[]): Promise<RunSummary & { stderr: string; code: number }> {
  const result = await pipeline(['run', '--json', ...args]);
  if (!result.stdout.trim()) throw new Error(`run printed no summary (exit ${result.code}): ${result.stderr}`);
  return { ...(JSON.parse(result.stdout) as RunSummary), stderr: result.stderr, code: result.code };
}

/** `status --json`, by stage name. */
export async function stageStatuses(pipeline: Pipeline, args: string[]): Promise<Record<string, StageStatus>> {
  const result = await pipeline(['status', '--json', ...args]);
  if (result.code !== 0) throw new Error(`status exited ${result.code}: ${result.stderr}`);
  return Object.fromEntries((JSON.parse(result.stdout) as { stages: StageStatus[] }).stages.map((s) => [s.name, s]));
}

/** Rows of a query through `pipeline sql --format json`. */
export async function sqlRows<T>(pipeline: Pipeline, query: string): Promise<T[]> {
  const result = await pipeline(['sql', '--format', 'json', query]);
  if (result.code !== 0) throw new Error(`sql exited ${result.code}: ${result.stderr}`);
  return JSON.parse(result.stdout) as T[];
}
