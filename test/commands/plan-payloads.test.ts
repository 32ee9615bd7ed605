// `pipeline plan --payloads` through the real CLI: a prompt file that gives no size gets
// the size generate would send (the checkpoint family's), not a fixed 512x512.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyExampleProject } from '../example-project.js';
import { repoRoot } from '../engine/helpers.js';
import { standInModel, startA1111StandIn, type A1111StandIn } from '../standins/a1111-server.js';

let dir: string;
let server: A1111StandIn;

/** Asynchronous, so the stand-in in this process can answer while the CLI asks it. */
function plan(file: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string; payloads: Record<string, unknown>[] }> {
  const out = mkdtempSync(join(tmpdir(), 'sdloop-payloads-'));
  const argv = [join(repoRoot, 'bin', 'pipeline.js'), '-C', dir, 'plan', `data/prompts/${file}`, '--count', '2', '--payloads', out, ...args];
  return new Promise((done) => execFile(process.execPath, argv, { encoding: 'utf8', cwd: dir }, (error, stdout, stderr) => {
    const payloads = readdirSync(out).sort().map((name) => JSON.parse(readFileSync(join(out, name), 'utf8')) as Record<string, unknown>);
    done({ code: error ? Number(error.code) : 0, stdout, stderr, payloads });
  }));
}

const size = (payload: Record<string, unknown>) => `${String(payload.width)}x${String(payload.height)}`;

beforeAll(async () => {
  dir = copyExampleProject('sdloop-plan-payloads-');
  // The example's template sets 512x768; this one leaves the size to generate.
  const base = readFileSync(join(dir, 'data/templates/base.template.yaml'), 'utf8');
  writeFileSync(join(dir, 'data/templates/unsized.template.yaml'), base.replace('name: base', 'name: unsized').replace(/\n  (width|height): \d+/g, ''));
  const pet = readFileSync(join(dir, 'data/prompts/pet.prompt.yaml'), 'utf8');
  writeFileSync(join(dir, 'data/prompts/unsized.prompt.yaml'), pet.replace('base.template.yaml', 'unsized.template.yaml').replace('session_name: pet', 'session_name: unsized'));
  server = await startA1111StandIn({ models: [standInModel('sd_xl_base_1.0'), standInModel('v1-5-pruned-emaonly')] });
});
afterAll(() => server?.close());

describe('plan --payloads sizes requests as generate does', () => {
  it('gives the loaded SDXL checkpoint 1024x1024 and keeps a size the file gives', async () => {
    const a1111 = ['--set', 'generate.backend=a1111', '--set', `generate.endpoints=["${server.url}"]`];
    const auto = await plan('unsized.prompt.yaml', ...a1111);
    expect(auto.code, auto.stderr).toBe(0);
    expect(auto.payloads.map(size)).toEqual(['1024x1024', '1024x1024']);

    const pinned = await plan('unsized.prompt.yaml', ...a1111, '--set', 'generate.model=v1-5-pruned-emaonly');
    expect(pinned.payloads.map(size)).toEqual(['512x512', '512x512']);

    const own = await plan('scenery.prompt.yaml', ...a1111);
    expect(own.payloads.map(size)).toEqual(['768x512', '768x512']);
  });

  it('follows generate.family, and the synthetic backend stays at 512', async () => {
    const family = await plan('unsized.prompt.yaml', '--set', 'generate.family=sdxl');
    expect(family.code, family.stderr).toBe(0);
    expect(family.payloads.map(size)).toEqual(['1024x1024', '1024x1024']);
    const synthetic = await plan('unsized.prompt.yaml');
    expect(synthetic.payloads.map(size)).toEqual(['512x512', '512x512']);
  });

  it('with no server to ask and no family set, says so and writes nothing', async () => {
    const down = await plan('unsized.prompt.yaml', '--set', 'generate.backend=a1111', '--set', 'generate.endpoints=["http://127.0.0.1:9"]');
    expect(down.code).toBe(2);
    expect(down.stderr).toMatch(/generate\.family: .*checkpoint's family/);
    expect(down.payloads).toEqual([]);
  });
});
