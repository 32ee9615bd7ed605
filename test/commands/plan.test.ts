// plan, validate and schema export, run in-process with a minimal command context.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { invokeCommand, type CommandContext } from '../../src/command.js';
import { InputErrors } from '../../src/errors.js';
import commands from '../../commands/index.js';
import { project, promptYaml } from '../resolve/helpers.js';
import { exampleDir } from '../example-project.js';

function context(projectDir: string, params: Record<string, unknown> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const ctx: CommandContext = {
    projectDir, dataDir: join(projectDir, 'data'), params,
    sql: async () => { throw new Error('no state in these tests'); },
    tables: async () => ({}),
    run: async () => { throw new Error('no runs in these tests'); },
    stdout: (t) => out.push(t), stderr: (t) => err.push(t),
  };
  return { ctx, out, err };
}
const command = (name: string) => commands.find((c) => c.name === name)!;
const example = exampleDir;

describe('pipeline plan', () => {
  it('prints the rows as JSON with the table column names', async () => {
    const { ctx, out } = context(example);
    const code = await invokeCommand(command('plan'), [join(example, 'data/prompts/pet.prompt.yaml'), '--format', 'json', '--count', '5', '--seeds', '3#10'], ctx);
    expect(code).toBe(0);
    const rows = JSON.parse(out.join(''));
    expect(rows).toHaveLength(5);
    expect(Object.keys(rows[0])).toEqual(['prompt_id', 'source', 'session', 'theme', 'style', 'idx', 'prompt', 'api_prompt', 'negative_prompt', 'seed', 'variations', 'params', 'manifest', 'manifest_variations']);
    expect(rows.map((r: { seed: number }) => r.seed)).toEqual([10, 11, 12, 10, 11]);
  });

  it('prints a table and CSV; rejects an unknown format', async () => {
    const { ctx, out } = context(example);
    await invokeCommand(command('plan'), [join(example, 'data/prompts/scenery.prompt.yaml'), '--fixed', 'Location:Beach', '--count', '2'], ctx);
    expect(out.join('')).toMatch(/idx\s+seed\s+variations\s+api_prompt/);
    expect(out.join('')).toContain('Location=Beach');
    const csv = context(example);
    await invokeCommand(command('plan'), [join(example, 'data/prompts/scenery.prompt.yaml'), '--format', 'csv', '--count', '1'], csv.ctx);
    expect(csv.out.join('').split('\n')[0]).toMatch(/^prompt_id,source,session/);
    await expect(invokeCommand(command('plan'), [join(example, 'data/prompts/scenery.prompt.yaml'), '--format', 'xml'], ctx)).rejects.toThrow(/option '--format <format>' argument 'xml' is invalid. Allowed choices are table, csv, json/);
  });
});

describe('pipeline validate', () => {
  it('passes on the example project', async () => {
    const { ctx, out, err } = context(example, { resolve: { prompts: ['data/prompts/*.prompt.yaml'] } });
    expect(await invokeCommand(command('validate'), [], ctx)).toBe(0);
    expect(err).toEqual([]);
    expect(out.join('')).toMatch(/^ok: \d+ files checked, 4 prompt files planned/);
  });

  it('reports every problem with file, line and field', async () => {
    const dir = project({
      'prompts/a.prompt.yaml': promptYaml('{Missing}, {Hair}', 'imports:\n  Hair: ../vars/hair.yaml\n'),
      'prompts/b.prompt.yaml': 'name: b\nprompt: x\ngeneration:\n  mode: sometimes\n  seed: 1\n  seed_mode: fixed\n',
      'prompts/c.prompt.yaml': 'name: [unclosed\n',
      'vars/hair.yaml': 'Bob: bob cut\n',
      'vars/old.yaml': '- red hair\n- blue hair\n',
    });
    const { ctx } = context(dir, { resolve: { prompts: ['prompts/*.prompt.yaml'] } });
    const error = await invokeCommand(command('validate'), [join(dir, 'prompts'), join(dir, 'vars')], ctx).catch((e) => e);
    expect(error).toBeInstanceOf(InputErrors);
    const lines = (error as InputErrors).errors.map((e) => e.format());
    expect(lines.some((l) => /a\.prompt\.yaml:\d+:\d+: imports: unknown placeholders: Missing.*available imports: Hair/.test(l))).toBe(true);
    expect(lines.some((l) => /b\.prompt\.yaml:4:9: generation\.mode: .*combinatorial.*random/.test(l))).toBe(true);
    expect(lines.some((l) => /b\.prompt\.yaml:4:3: generation\.max_images: .*expected number/.test(l))).toBe(true);
    expect(lines.some((l) => /c\.prompt\.yaml:\d+:\d+: YAML syntax error/.test(l))).toBe(true);
    expect(lines.some((l) => /old\.yaml.*old list-of-items variations format/.test(l))).toBe(true);
  });
});

describe('pipeline validate warnings', () => {
  it('points out unknown keys (typos) without failing', async () => {
    const dir = project({ 'prompts/a.prompt.yaml': promptYaml('cat', 'negative_promt: "ugly"\nthemable: true\n') });
    const { ctx, err } = context(dir, { resolve: { prompts: ['prompts/*.prompt.yaml'] } });
    expect(await invokeCommand(command('validate'), [], ctx)).toBe(0);
    expect(err.join('')).toMatch(/^warning: .*a\.prompt\.yaml:9:1: negative_promt: unknown key "negative_promt" in a prompt file, ignored/);
    expect(err.join('').match(/^warning:/gm)).toHaveLength(1);
  });
});

describe('pipeline schema export', () => {
  it('writes JSON Schema for every file kind and for pipeline.yaml', async () => {
    const dir = project({});
    const { ctx } = context(dir);
    expect(await invokeCommand(command('schema'), ['export', '--out', join(dir, 'out')], ctx)).toBe(0);
    for (const name of ['prompt', 'template', 'chunk', 'variations', 'theme', 'adetailer', 'controlnet', 'pipeline']) {
      expect(existsSync(join(dir, 'out', `${name}.schema.json`))).toBe(true);
    }
    const prompt = JSON.parse(readFileSync(join(dir, 'out', 'prompt.schema.json'), 'utf8'));
    expect(prompt.$schema).toBe('http://json-schema.org/draft-07/schema#');
    expect(prompt.required).toEqual(expect.arrayContaining(['name', 'prompt', 'generation']));
    expect(prompt.properties.generation.properties.mode.enum).toEqual(['combinatorial', 'random', 'ask']);
    const pipeline = JSON.parse(readFileSync(join(dir, 'out', 'pipeline.schema.json'), 'utf8'));
    expect(pipeline.properties.stages).toBeDefined();
  });
});
