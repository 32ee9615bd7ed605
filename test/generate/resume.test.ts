// Kill a generate run with SIGKILL half-way, run it again, and check that every planned
// image exists exactly once: in the committed results, the session folder and its manifest.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startA1111StandIn, type A1111StandIn } from '../standins/a1111-server.js';
import { sessionManifest } from '../../stages/generate/sessions.js';
import { promptRows } from './rows.js';

const repo = resolve(import.meta.dirname, '../..');
const driver = join(repo, 'test/fixtures/generate/engine-driver.mjs');
let build: string;
let server: A1111StandIn;

beforeAll(async () => {
  build = mkdtempSync(join(tmpdir(), 'sdloop-generate-build-'));
  try {
    execFileSync(process.execPath, [join(repo, 'node_modules/typescript/bin/tsc'), '-p', repo, '--outDir', build], { stdio: 'ignore' });
  } catch {
    // Type errors elsewhere in the tree still emit JavaScript; what matters is that generate's files exist.
  }
  if (!existsSync(join(build, 'stages/generate/index.js'))) throw new Error('tsc emitted no stages/generate/index.js');
  symlinkSync(join(repo, 'node_modules'), join(build, 'node_modules'));
  writeFileSync(join(build, 'package.json'), '{"type":"module"}');
  server = await startA1111StandIn({ latencyMs: 15 });
});
afterAll(() => server?.close());

function run(args: string[], killAfterRequests?: number): Promise<number | string | null> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [driver, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const watch = killAfterRequests
      ? setInterval(() => {
          if (server.txt2img().length >= killAfterRequests) child.kill('SIGKILL');
        }, 5)
      : null;
    child.on('exit', (code, signal) => {
      if (watch) clearInterval(watch);
      if (code && code !== 0) fail(new Error(`driver exited ${code}: ${stderr}`));
      else done(signal ?? code);
    });
  });
}

describe('resume after SIGKILL', () => {
  it('leaves no duplicate and no missing image', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sdloop-generate-kill-'));
    const prompts = promptRows(60);
    const files = { prompts: join(dir, 'prompts.json'), memo: join(dir, 'memo.jsonl'), params: join(dir, 'params.json') };
    writeFileSync(files.prompts, JSON.stringify(prompts));
    writeFileSync(files.params, JSON.stringify({ generate: { backend: 'a1111', endpoints: [server.url], concurrency: 2 } }));
    const args = [build, dir, files.prompts, files.memo, files.params];

    expect(await run(args, 25)).toBe('SIGKILL');
    const sessionsRoot = join(dir, 'data', 'sessions');
    const [folder] = readdirSync(sessionsRoot);
    const killed = sessionManifest.parse(JSON.parse(readFileSync(join(sessionsRoot, folder!, 'manifest.json'), 'utf8')));
    expect(killed.status).toBe('ongoing');
    expect(killed.images.length).toBeGreaterThan(0);
    expect(killed.images.length).toBeLessThan(60);
    for (const image of killed.images) expect(existsSync(join(sessionsRoot, folder!, image.filename))).toBe(true);

    expect(await run(args)).toBe(0);
    const committed = readFileSync(files.memo, 'utf8').trim().split('\n').flatMap((line) => JSON.parse(line) as { prompt_id: string; error?: string }[]);
    const ids = committed.map((r) => r.prompt_id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.sort()).toEqual(prompts.map((p) => p.prompt_id).sort());
    expect(readdirSync(sessionsRoot)).toEqual([folder]);
    const manifest = sessionManifest.parse(JSON.parse(readFileSync(join(sessionsRoot, folder!, 'manifest.json'), 'utf8')));
    expect(manifest.status).toBe('completed');
    expect(manifest.images.map((i) => i.filename)).toEqual(prompts.map((p) => `demo_${String(p.idx).padStart(4, '0')}_seed-${p.seed}.png`));
    expect(readdirSync(join(sessionsRoot, folder!)).filter((n) => n.endsWith('.png'))).toHaveLength(60);
    expect(readdirSync(join(sessionsRoot, folder!)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });
});
