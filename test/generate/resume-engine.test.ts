// The real `pipeline run generate`, against the A1111 stand-in, killed with SIGKILL half
// way and run again: every planned image ends up exactly once in the images table, the
// session folders and their manifests, and finished images are not requested again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { copyExampleProject } from '../example-project.js';
import { startA1111StandIn, type A1111StandIn } from '../standins/a1111-server.js';

const repo = resolve(import.meta.dirname, '../..');
const cli = join(repo, 'bin', 'pipeline.js');
let server: A1111StandIn;
let dir: string;

function projectFor(url: string): string {
  const project = copyExampleProject('sdloop-generate-engine-');
  symlinkSync(join(repo, 'node_modules'), join(project, 'node_modules'));
  writeFileSync(
    join(project, 'pipeline.yaml'),
    `params:
  resolve: {prompts: [data/prompts/character.prompt.yaml, data/prompts/scenery.prompt.yaml]}
  generate: {backend: a1111, endpoints: ["${url}"], concurrency: 2, retries: 1, backoff_ms: 10}
stages:
  resolve: {uses: resolve, params: [resolve], deps: [data/prompts, data/templates, data/chunks, data/variations]}
  generate: {uses: generate, params: [generate], inputs: {prompts: resolve.planned, axes: resolve.planned_axes, manifests: resolve.planned_manifests}}
`,
  );
  return project;
}

function sql<T>(query: string): T[] {
  const result = spawnSync(process.execPath, [cli, '-C', dir, 'sql', query, '--format', 'json'], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(result.stderr);
  return JSON.parse(result.stdout) as T[];
}

beforeAll(async () => {
  server = await startA1111StandIn({ latencyMs: 25 });
  dir = projectFor(server.url);
});
afterAll(() => server?.close());

describe('pipeline run generate, killed and resumed', () => {
  it('finishes with every planned image exactly once', async () => {
    const killed = await new Promise<string | null>((done) => {
      const child = spawn(process.execPath, [cli, '-C', dir, 'run', 'generate'], { stdio: 'ignore' });
      const watch = setInterval(() => {
        if (server.txt2img().length >= 40) child.kill('SIGKILL');
      }, 5);
      child.on('exit', (_code, signal) => {
        clearInterval(watch);
        done(signal);
      });
    });
    expect(killed).toBe('SIGKILL');
    const requestsBeforeResume = server.txt2img().length;

    // Not spawnSync: the stand-in server lives in this process and must keep answering.
    const rerun = await new Promise<{ status: number | null; stderr: string }>((done) => {
      const child = spawn(process.execPath, [cli, '-C', dir, 'run', 'generate'], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      child.on('exit', (status) => done({ status, stderr }));
    });
    expect(rerun.status, rerun.stderr).toBe(0);
    expect(rerun.stderr).toMatch(/removed a stale lock/);

    const planned = sql<{ n: number }>('select count(*) as n from planned')[0]!.n;
    const images = sql<{ prompt_id: string; status: string; session_dir: string; filename: string }>('select prompt_id, status, session_dir, filename from rendered');
    expect(planned).toBe(108);
    expect(images).toHaveLength(planned);
    expect(new Set(images.map((i) => i.prompt_id)).size).toBe(planned);
    expect(images.filter((i) => i.status === 'failed')).toEqual([]);
    // Only batches that had not committed are requested again.
    const reRequested = server.txt2img().length - planned;
    expect(reRequested).toBeGreaterThanOrEqual(0);
    expect(reRequested).toBeLessThanOrEqual(requestsBeforeResume);

    const sessions = readdirSync(join(dir, 'data', 'sessions'));
    let pngs = 0;
    for (const session of sessions) {
      const folder = join(dir, 'data', 'sessions', session);
      const files = readdirSync(folder).filter((f) => f.endsWith('.png'));
      pngs += files.length;
      const manifest = JSON.parse(readFileSync(join(folder, 'manifest.json'), 'utf8')) as { status: string; images: { filename: string }[] };
      expect(manifest.status).toBe('completed');
      expect(manifest.images.map((i) => i.filename).sort()).toEqual(files.sort());
    }
    expect(pngs).toBe(planned);
  }, 120_000);
});
