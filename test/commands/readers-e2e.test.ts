// Readers through the real CLI on the example project: while a run is stuck in generate
// (the A1111 stand-in never answers), sql, report, label, status, plan, validate and dag
// all work, and on a read-only data folder they write nothing; SQL a person wrote (a report file, prune --where) cannot read other files;
// and `pipeline loop --schedule` holds nothing while it waits, saying when it fires in
// local time.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyExampleProject } from '../example-project.js';
import { startA1111StandIn, type A1111StandIn } from '../standins/a1111-server.js';
import { repoRoot } from '../engine/helpers.js';

const cli = join(repoRoot, 'bin', 'pipeline.js');
let dir: string;
let server: A1111StandIn;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function start(args: string[], env: Record<string, string> = {}): { child: ChildProcess; result: Promise<Result>; stdout: () => string } {
  const child = spawn(process.execPath, [cli, '-C', dir, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const result = new Promise<Result>((done) => child.on('close', (code, signal) => done({ code: code ?? (signal ? 128 : -1), stdout, stderr })));
  return { child, result, stdout: () => stdout };
}

const pipeline = (...args: string[]) => start(args).result;

async function until(check: () => boolean, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function rows<T>(query: string): Promise<T[]> {
  const result = await pipeline('sql', '--format', 'json', query);
  if (result.code !== 0) throw new Error(result.stderr);
  return JSON.parse(result.stdout) as T[];
}

beforeAll(async () => {
  dir = copyExampleProject('sdloop-readers-');
  // Every txt2img request hangs: a run over this server stays in generate until killed.
  server = await startA1111StandIn({ fault: () => 'hang' });
  const first = await pipeline('run', 'score');
  expect(first.code, first.stderr).toBe(0);
}, 180_000);
afterAll(() => server?.close());

describe('while a run is going', () => {
  it('sql, report, label, status, plan, validate and dag work', async () => {
    const runLock = join(dir, 'data', '.sdloop', 'run.lock');
    const run = start(['run', 'generate', '--set', 'generate.backend=a1111', '--set', `generate.endpoints=["${server.url}"]`, '--set', 'generate.retries=0']);
    await until(() => server.txt2img().length > 0, 'the run to send its first txt2img');

    const [{ n }] = await rows<{ n: number }>('select count(*)::INTEGER as n from images');
    expect(n).toBeGreaterThan(0);
    const report = await pipeline('report', 'variation_success', '--format', 'json');
    expect(report.code, report.stderr).toBe(0);
    expect(JSON.parse(report.stdout).length).toBeGreaterThan(0);
    const [image] = await rows<{ image_id: string; axis: string; value: string }>('select image_id, axis, value from scores order by image_id, axis limit 1');
    const label = await pipeline('label', image!.image_id, `${image!.axis}=${image!.value}`);
    expect(label.code, label.stderr).toBe(0);
    expect(await rows('select image_id, axis, value from labels')).toEqual([image]);
    const status = await pipeline('status');
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain(`a run is in progress (pid ${run.child.pid}`);
    const plan = await pipeline('plan', join(dir, 'data/prompts/character.prompt.yaml'), '--count', '2', '--format', 'json');
    expect(plan.code, plan.stderr).toBe(0);
    expect(JSON.parse(plan.stdout)).toHaveLength(2);
    const validate = await pipeline('validate');
    expect(validate.code, validate.stderr).toBe(0);
    expect((await pipeline('dag')).code).toBe(0);

    expect(existsSync(runLock), 'the run was still going').toBe(true);
    run.child.kill('SIGKILL');
    await run.result;
  }, 180_000);
});

describe('SQL a person wrote runs in the sandbox', () => {
  it('prune --where cannot ask about a file outside the project', async () => {
    const prune = await pipeline('prune', '--where', "(SELECT count(*) FROM read_text('/etc/hostname')) = 1", '--apply');
    expect(prune.code).toBe(2);
    expect(prune.stderr).toMatch(/--where: .*Cannot access file "\/etc\/hostname"/);
    expect(existsSync(join(dir, 'data', 'trash'))).toBe(false);
  });

  it('a report file cannot read one either, nor write', async () => {
    mkdirSync(join(dir, 'reports'), { recursive: true });
    writeFileSync(join(dir, 'reports', 'peek.sql'), "-- reads a system file\nSELECT * FROM read_text('/etc/hostname')\n");
    const peek = await pipeline('report', 'peek');
    expect(peek.code).toBe(2);
    expect(peek.stderr).toMatch(/Cannot access file "\/etc\/hostname"/);
    writeFileSync(join(dir, 'reports', 'peek.sql'), `-- writes into the tables folder\nCOPY (SELECT 1) TO '${join(dir, 'data', 'tables', 'x.parquet')}'\n`);
    const copy = await pipeline('report', 'peek');
    expect(copy.code).toBe(2);
    expect(copy.stderr).toMatch(/got a COPY statement/);
    expect(existsSync(join(dir, 'data', 'tables', 'x.parquet'))).toBe(false);
  });
});

/** path -> size and mtime of everything under the project. */
function listing(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (at: string) => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const path = join(at, entry.name);
      const s = statSync(path);
      out[relative(root, path)] = `${s.size}:${s.mtimeMs}`;
      if (entry.isDirectory()) walk(path);
    }
  };
  walk(root);
  return out;
}

describe('on a read-only data folder', () => {
  it('status, sql, report, plan, validate and dag work and write nothing', async () => {
    spawnSync('chmod', ['-R', 'a-w', join(dir, 'data')]);
    try {
      const before = listing(dir);
      for (const args of [
        ['status'],
        ['sql', 'select count(*) from images'],
        ['report', 'variation_success'],
        ['plan', join(dir, 'data/prompts/character.prompt.yaml'), '--count', '2'],
        ['validate'],
        ['dag'],
      ]) {
        const result = await pipeline(...args);
        expect(result.code, `${args[0]}: ${result.stderr}`).toBe(0);
      }
      expect(listing(dir), 'nothing written, not even a cache').toEqual(before);
    } finally {
      spawnSync('chmod', ['-R', 'u+w', join(dir, 'data')]);
    }
  }, 120_000);
});

describe('pipeline loop --schedule', () => {
  it('holds nothing while it waits, and says when it fires in local time with the zone', async () => {
    const loop = start(['loop', '--schedule', '0 2 * * *'], { TZ: 'Europe/Paris' });
    await until(() => loop.stdout().includes('loop scheduled'), 'the loop to say when it fires');
    // 02:00 in Paris is 01:00 UTC in winter and 00:00 UTC in summer.
    expect(loop.stdout()).toMatch(/^loop scheduled "0 2 \* \* \*"; first round at \d{4}-\d\d-\d\d 02:00 Europe\/Paris \((\d{4}-\d\d-\d\d )?0[01]:00 UTC\) \(Ctrl-C to stop\)$/m);
    expect((await rows<{ n: number }>('select count(*)::INTEGER as n from images'))[0]!.n).toBeGreaterThan(0);
    const status = await pipeline('status');
    expect(status.code, status.stderr).toBe(0);
    const run = await pipeline('run', 'resolve');
    expect(run.code, run.stderr).toBe(0);
    loop.child.kill('SIGTERM');
    expect((await loop.result).code).toBe(0);
  }, 120_000);
});
