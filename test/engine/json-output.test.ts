// Every command's --json through the real CLI: one object on stdout that parses, with the
// envelope (command, ok, exit_code) and the keys the README's "JSON output" table lists.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestProject, repoRoot, type CliResult } from './helpers.js';
import { copyExampleProject } from '../example-project.js';
import { pipelineIn } from '../sdgen/cli.js';

let project: TestProject;
let example: string;
beforeAll(async () => {
  project = TestProject.create();
  project.write('pipeline.yaml', `commands: [commands]\n${project.read('pipeline.yaml')}`);
  expect((await project.pipeline(['run'])).code).toBe(0);
  example = copyExampleProject();
});
afterAll(() => {
  project.dispose();
  rmSync(example, { recursive: true, force: true });
});

/** The parsed envelope, after checking it names the command, its exit code and every key listed. */
function envelope(result: CliResult, command: string, keys: string[], exitCode = 0): Record<string, unknown> {
  expect(result.code, result.stderr).toBe(exitCode);
  const parsed = JSON.parse(result.stdout) as Record<string, unknown>;
  expect(parsed).toMatchObject({ command, ok: exitCode === 0, exit_code: exitCode });
  expect(Object.keys(parsed).sort()).toEqual(['command', 'ok', 'exit_code', ...keys].sort());
  return parsed;
}

const snakeCase = /^[a-z][a-z0-9_]*$/;

/** Keys of every object in `value`, at any depth, except under the named keys (rows hold user data). */
function keysOf(value: unknown, skip = new Set(['rows', 'params'])): string[] {
  if (Array.isArray(value)) return value.flatMap((v) => keysOf(v, skip));
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) => [k, ...(skip.has(k) ? [] : keysOf(v, skip))]);
}

describe('--json on the engine commands', () => {
  it('run, run --dry-run and status: stages with the same keys however they were asked', async () => {
    const run = envelope(await project.pipeline(['run', '--json']), 'run', ['dry_run', 'duration_s', 'stages']);
    expect(run.stages).toEqual([{ name: 'files', status: 'skipped' }, { name: 'upper', status: 'skipped' }, { name: 'count', status: 'skipped' }]);
    const dry = envelope(await project.pipeline(['run', '--dry-run', '--json']), 'run', ['dry_run', 'stages']);
    const status = envelope(await project.pipeline(['status', '--json']), 'status', ['running', 'stages']);
    expect(status.running).toBeNull();
    for (const stages of [dry.stages, status.stages]) {
      expect(stages).toContainEqual({ name: 'upper', state: 'up_to_date', up_to_date: true, reasons: [] });
    }
  });

  it('dag, sql and gc', async () => {
    const dag = envelope(await project.pipeline(['dag', '--json']), 'dag', ['stages']);
    expect((dag.stages as unknown[])[1]).toEqual({ name: 'upper', kind: 'map', uses: './upper.mjs', outputs: ['upper'], inputs: [{ name: 'files', stage: 'files', output: 'files' }], upstream: ['files'] });
    const sql = envelope(await project.pipeline(['sql', '--json', 'select path from upper order by path']), 'sql', ['rows']);
    expect(sql.rows).toEqual([{ path: 'in/a.txt' }, { path: 'in/b.txt' }]);
    envelope(await project.pipeline(['gc', '--json']), 'gc', ['memo_rows', 'parts', 'objects', 'versions', 'bytes', 'applied']);
  });
});

describe('--json on the project commands', () => {
  it('report, label, prune, promoted and schema', async () => {
    const reports = envelope(await project.pipeline(['report', '--json']), 'report', ['reports']);
    expect(reports.reports).toContainEqual(expect.objectContaining({ name: 'sessions', summary: expect.any(String), params: expect.any(Array) }));
    const missing = envelope(await project.pipeline(['report', 'sessions', '--json']), 'report', ['errors'], 2);
    expect(missing.errors).toContainEqual({ message: expect.stringContaining('report sessions needs table images') });
    expect(envelope(await project.pipeline(['label', 'abc123', 'Hair=Red', '--json']), 'label', ['recorded', 'rejects'])).toMatchObject({ recorded: 1, rejects: 0 });
    expect(envelope(await project.pipeline(['prune', '--restore', '--json']), 'prune', ['action', 'restored', 'skipped'])).toMatchObject({ action: 'restore', restored: [] });
    envelope(await project.pipeline(['promoted', '--json']), 'promoted', ['promoted', 'merged']);
    const out = mkdtempSync(join(tmpdir(), 'sdloop-schema-'));
    try {
      const schema = envelope(await project.pipeline(['schema', 'export', '--out', out, '--json']), 'schema', ['written']);
      expect(schema.written).toContain(join(out, 'pipeline.schema.json'));
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('plan, validate and themes, in the example project', async () => {
    const plan = envelope(await pipelineIn(example, ['plan', 'data/prompts/character.prompt.yaml', '--count', '2', '--json']), 'plan', ['rows', 'warnings']);
    expect(plan.rows).toHaveLength(2);
    const validate = envelope(await pipelineIn(example, ['validate', '--json']), 'validate', ['files', 'prompt_files', 'problems', 'warnings']);
    expect(validate.problems).toEqual([]);
    const themes = envelope(await pipelineIn(example, ['themes', 'list', '--json']), 'themes', ['action', 'themes']);
    expect(themes.themes).toContainEqual(expect.objectContaining({ name: expect.any(String), styles: expect.any(Array), tags: expect.any(Array) }));
    for (const parsed of [plan, validate]) {
      expect(keysOf(parsed).filter((k) => !snakeCase.test(k))).toEqual([]);
    }
  });

  it('bad input is the envelope with errors: message and where', async () => {
    const bad = envelope(await project.pipeline(['label', '--json']), 'label', ['errors'], 2);
    expect(bad.errors).toEqual([{ message: expect.stringContaining('expected an image id'), field: 'image_id' }]);
  });
});

describe('--json on serve, which keeps running', () => {
  it('prints one envelope line once listening, and nothing more on stdout when stopped', async () => {
    const child = spawn(process.execPath, [join(repoRoot, 'bin', 'pipeline.js'), '-C', example, 'serve', '--port', '0', '--read-only', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((done) => child.on('close', (code) => done(code)));
    const firstLine = await new Promise<string>((done, fail) => {
      child.stdout!.on('data', (d) => {
        stdout += d;
        if (stdout.includes('\n')) done(stdout.slice(0, stdout.indexOf('\n')));
      });
      child.on('close', () => fail(new Error(`serve ended before listening: ${stderr}`)));
    });
    const listening = JSON.parse(firstLine) as { url: string; port: number };
    expect(listening).toEqual({ command: 'serve', ok: true, exit_code: 0, url: `http://127.0.0.1:${listening.port}/`, port: expect.any(Number), host: '127.0.0.1', link: listening.url, read_only: true, token_required: false });
    expect(listening.port).toBeGreaterThan(0);
    expect((await fetch(listening.url)).status).toBe(200);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stdout).toBe(`${firstLine}\n`);
    expect(stderr).toMatch(/read-only; Ctrl-C stops the server/);
  });
});
