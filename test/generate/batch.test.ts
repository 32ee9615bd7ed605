// A prompt file's batch_size and n_iter, through the real CLI against the A1111 stand-in:
// one request per planned prompt, each image of its batch a row with its real seed (the
// grid A1111 puts first is not one), and a rerun replays the rows without a request.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startA1111StandIn, type A1111StandIn } from '../standins/a1111-server.js';

const repo = resolve(import.meta.dirname, '../..');
const cli = join(repo, 'bin', 'pipeline.js');
let server: A1111StandIn;
let dir: string;

function project(url: string): string {
  const root = mkdtempSync(join(tmpdir(), 'sdloop-batch-'));
  const files: Record<string, string> = {
    'pipeline.yaml': `params:
  resolve: {prompts: [data/prompts/pair.prompt.yaml]}
  generate: {backend: a1111, endpoints: ["${url}"], retries: 0, backoff_ms: 10}
stages:
  resolve: {uses: resolve, params: [resolve], deps: [data/prompts, data/variations]}
  generate: {uses: generate, params: [generate], inputs: {prompts: resolve.planned, axes: resolve.planned_axes, manifests: resolve.planned_manifests}}
`,
    'data/prompts/pair.prompt.yaml': `version: "2.0"
type: prompt
name: pair
prompt: "portrait, {Hair}"
negative_prompt: "lowres"
imports: {Hair: ../variations/hair.yaml}
parameters: {width: 512, height: 768, batch_size: 2, n_iter: 2}
generation: {mode: combinatorial, seed: 700, seed_mode: progressive, max_images: 0}
output: {session_name: pair}
`,
    'data/variations/hair.yaml': 'Blonde: "blonde hair"\nRed: "red hair"\n',
  };
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), text);
  }
  return root;
}

/** The CLI as a child process, awaited: the stand-in answers from this process's event loop. */
async function pipeline(...args: string[]): Promise<string> {
  const child = spawn(process.execPath, [cli, '-C', dir, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const code = await new Promise<number | null>((done) => child.on('close', done));
  if (code !== 0) throw new Error(`pipeline ${args.join(' ')} exited ${code}: ${stderr}`);
  return stdout;
}

const rows = async () => JSON.parse(await pipeline('sql', 'select prompt_id, seed, status, image_id, filename from rendered order by prompt_id, seed', '--format', 'json')) as
  { prompt_id: string; seed: number; status: string; image_id: string; filename: string }[];

beforeAll(async () => {
  server = await startA1111StandIn();
  dir = project(server.url);
});
afterAll(async () => {
  await server.close();
});

describe('batch_size and n_iter from a prompt file', () => {
  it('sends one request per prompt and keeps every image of its batch, each with its real seed', { timeout: 120_000 }, async () => {
    await pipeline('run');
    const bodies = server.txt2img();
    expect(bodies.map((b) => [b.seed, b.batch_size, b.n_iter])).toEqual([[700, 2, 2], [701, 2, 2]]);
    const rendered = await rows();
    expect(rendered.every((r) => r.status === 'ok')).toBe(true);
    const prompts = [...new Set(rendered.map((r) => r.prompt_id))];
    expect(prompts.map((id) => rendered.filter((r) => r.prompt_id === id).map((r) => r.seed))).toEqual([[700, 701, 702, 703], [701, 702, 703, 704]]);
    expect(new Set(rendered.map((r) => r.image_id)).size).toBe(8);
    const [session] = readdirSync(join(dir, 'data', 'sessions'));
    expect(readdirSync(join(dir, 'data', 'sessions', session!)).filter((f) => f.endsWith('.png'))).toHaveLength(8);
  });

  it('replays the batches it has on a rerun: a value added renders only its own batch', { timeout: 120_000 }, async () => {
    const before = await rows();
    writeFileSync(join(dir, 'data', 'variations', 'hair.yaml'), 'Blonde: "blonde hair"\nRed: "red hair"\nBlack: "black hair"\n');
    await pipeline('run');
    expect(server.txt2img()).toHaveLength(3);
    const after = await rows();
    expect(after).toHaveLength(12);
    for (const row of before) expect(after).toContainEqual(row);
  });
});
