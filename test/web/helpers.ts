// A real project for the review app's tests: the example project (its frozen copy)
// copied into a temp folder and run through the built CLI, so serve sees exactly
// the tables a user's run leaves. Requests go through node:http, which (unlike fetch)
// lets a test set Host, Origin and Sec-Fetch-Site as a hostile page or client would.
import { spawn, type ChildProcess } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { copyExampleProject } from '../example-project.js';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = join(repoRoot, 'bin', 'pipeline.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function copyProject(): string {
  return copyExampleProject('sdloop-serve-');
}

export function spawnPipeline(dir: string, args: string[]): ChildProcess {
  return spawn(process.execPath, [cli, '-C', dir, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}

export function pipeline(dir: string, args: string[]): Promise<CliResult> {
  const child = spawnPipeline(dir, args);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  return new Promise((done) => child.on('close', (code) => done({ code: code ?? -1, stdout, stderr })));
}

export async function sqlRows<T = Record<string, unknown>>(dir: string, query: string): Promise<T[]> {
  const result = await pipeline(dir, ['sql', '--format', 'json', query]);
  if (result.code !== 0) throw new Error(`sql exited ${result.code}: ${result.stderr}`);
  return JSON.parse(result.stdout) as T[];
}

/** `pipeline serve` as a user starts it; resolves once it printed its URL (the last line). */
/** stop() resolves with the exit code, or the signal's name when one killed it. */
export function startServe(dir: string, args: string[] = []): Promise<{ url: string; child: ChildProcess; output: () => string; stop(): Promise<number | string> }> {
  const child = spawnPipeline(dir, ['serve', '--port', '0', ...args]);
  let output = '';
  return new Promise((resolvePromise, reject) => {
    const onData = (d: Buffer) => {
      output += d;
      const url = /(http:\/\/127\.0\.0\.1:\d+\/)\S*\n$/.exec(output)?.[1];
      if (url) {
        child.stdout!.off('data', onData);
        const stop = () => new Promise<number | string>((done) => {
          child.on('close', (code, signal) => done(code ?? `${signal}: ${output}`));
          child.kill('SIGTERM');
        });
        resolvePromise({ url, child, output: () => output, stop });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d) => (output += d));
    child.on('close', (code) => reject(new Error(`serve exited ${code} before printing its URL: ${output}`)));
  });
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json<T = any>(): T;
}

export function request(url: string, options: { method?: string; headers?: Record<string, string>; body?: unknown } = {}): Promise<Reply> {
  const body = options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
  const headers = { ...(body !== undefined && typeof options.body !== 'string' ? { 'content-type': 'application/json' } : {}), ...options.headers };
  return new Promise((done, fail) => {
    const req = httpRequest(url, { method: options.method ?? 'GET', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        done({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) });
      });
    });
    req.on('error', fail);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** Raw bytes of a GET, for images. */
export function requestBytes(url: string): Promise<{ status: number; type: string | undefined; bytes: Buffer }> {
  return new Promise((done, fail) => {
    httpRequest(url, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done({ status: res.statusCode ?? 0, type: res.headers['content-type'], bytes: Buffer.concat(chunks) }));
    }).on('error', fail).end();
  });
}
