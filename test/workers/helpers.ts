// A real redis-server on a free 127.0.0.1 port, with no persistence (a restart forgets
// every job, the harshest case), and the example project prepared up to the images, copied
// per test, with `pipeline worker` processes driven as a user would.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { copyExampleProject } from '../example-project.js';
import { finished, waitFor, type CliResult } from '../engine/helpers.js';

const repo = resolve(import.meta.dirname, '../..');
export const cli = join(repo, 'bin', 'pipeline.js');
export const password = 's3cret-pw';

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

export class RedisServer {
  private process?: ChildProcess;
  private constructor(readonly port: number) {}

  static async start(): Promise<RedisServer> {
    const redis = new RedisServer(await freePort());
    await redis.restart();
    return redis;
  }

  get url(): string {
    return `redis://:${password}@127.0.0.1:${this.port}`;
  }

  async restart(): Promise<void> {
    let output = '';
    this.process = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--requirepass', password], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.process.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    await waitFor(() => output.includes('Ready to accept connections'), 'redis-server to start');
  }

  async stop(): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }
}

/** The example project after `pipeline run catalog`: scoring is all that is left. */
export function catalogedProject(): string {
  const dir = copyExampleProject('sdloop-workers-');
  symlinkSync(join(repo, 'node_modules'), join(dir, 'node_modules'));
  const result = spawnSync(process.execPath, [cli, '-C', dir, 'run', 'catalog'], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(result.stderr);
  return dir;
}

export function cloneProject(dir: string): string {
  const copy = mkdtempSync(join(tmpdir(), 'sdloop-workers-'));
  cpSync(dir, copy, { recursive: true, verbatimSymlinks: true });
  return copy;
}

/** The content hashes of a stage's outputs, from pipeline.lock. */
export function outputHashes(dir: string, stage: string): Record<string, string> {
  const lock = parse(readFileSync(join(dir, 'pipeline.lock'), 'utf8')) as { stages: Record<string, { outs: Record<string, { hash: string }> }> };
  return Object.fromEntries(Object.entries(lock.stages[stage]!.outs).map(([name, out]) => [name, out.hash]));
}

export function pipeline(dir: string, args: string[]): ChildProcess {
  return spawn(process.execPath, [cli, '-C', dir, ...args], { env: { ...process.env, SDLOOP_DEBUG: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
}

export interface WorkerProcess {
  child: ChildProcess;
  output(): string;
  done: Promise<CliResult>;
}

/** `pipeline worker`, resolved once it says it is serving. */
export async function startWorker(dir: string, args: string[]): Promise<WorkerProcess> {
  const child = pipeline(dir, ['worker', ...args]);
  let output = '';
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const done = finished(child);
  await waitFor(() => output.includes('serving') || child.exitCode !== null, 'the worker to start', 60_000);
  return { child, output: () => output, done };
}

export async function stopWorkers(workers: WorkerProcess[]): Promise<void> {
  for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGTERM');
  await Promise.all(workers.map((w) => w.done));
}
