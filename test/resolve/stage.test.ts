// The resolve stage module, run in-process on a small project.
import { describe, expect, it } from 'vitest';
import { promptRow } from '../../schemas/tables.js';
import { makeTestContext, runWholeStage } from '../../src/testing.js';
import resolveStage, { resolveParams } from '../../stages/resolve/index.js';
import { project, promptYaml } from './helpers.js';

function files() {
  return project({
    'prompts/b.prompt.yaml': promptYaml('{Hair}, b', 'imports:\n  Hair: ../vars/hair.yaml\n'),
    'prompts/a.prompt.yaml': promptYaml('{Hair}, a', 'imports:\n  Hair: ../vars/hair.yaml\n'),
    'extra/c.prompt.yaml': promptYaml('c'),
    'vars/hair.yaml': 'Bob: bob cut\nLong: long hair\nShort: short hair\n',
  });
}

async function run(dir: string, resolve: Record<string, unknown>) {
  const params = resolveParams.parse({ resolve });
  const ctx = makeTestContext({ dir, params, stage: 'resolve' });
  const depended: string[] = [];
  ctx.dependOn = (paths) => depended.push(...paths);
  const out = await runWholeStage(resolveStage, ctx);
  return { rows: out.planned as Record<string, unknown>[], depended };
}

describe('resolve stage', () => {
  it('plans files in glob order (sorted within a glob), rows that parse with the table schema', async () => {
    const dir = files();
    const { rows, depended } = await run(dir, { prompts: ['extra/*.prompt.yaml', 'prompts/*.prompt.yaml', 'prompts/a.prompt.yaml'] });
    expect(rows.map((r) => `${r.source}#${r.idx}`)).toEqual([
      'extra/c.prompt.yaml#0', 'prompts/a.prompt.yaml#0', 'prompts/a.prompt.yaml#1', 'prompts/a.prompt.yaml#2',
      'prompts/b.prompt.yaml#0', 'prompts/b.prompt.yaml#1', 'prompts/b.prompt.yaml#2',
    ]);
    for (const row of rows) promptRow.parse(row);
    expect(depended.filter((p) => p.endsWith('hair.yaml'))).toHaveLength(2);
    expect(depended.some((p) => p.endsWith('c.prompt.yaml'))).toBe(true);
  });

  it('applies the count cap per prompt file and the seed sweep', async () => {
    const { rows } = await run(files(), { prompts: ['prompts/*.prompt.yaml'], count: 2, seeds: '5,6' });
    expect(rows.map((r) => [r.source, r.seed])).toEqual([
      ['prompts/a.prompt.yaml', 5], ['prompts/a.prompt.yaml', 6], ['prompts/b.prompt.yaml', 5], ['prompts/b.prompt.yaml', 6],
    ]);
  });

  it('prompt_id hashes what defines the image: the same prompt, negative, seed and params dedupe', async () => {
    const dir = project({
      'p/x.prompt.yaml': promptYaml('cat', '', 'mode: combinatorial\n  seed: 4\n  seed_mode: fixed\n  max_images: 0'),
      'p/y.prompt.yaml': promptYaml('cat', '', 'mode: combinatorial\n  seed: 4\n  seed_mode: fixed\n  max_images: 0'),
      'p/z.prompt.yaml': promptYaml('cat', '', 'mode: combinatorial\n  seed: 5\n  seed_mode: fixed\n  max_images: 0'),
    });
    const ids = (await run(dir, { prompts: ['p/*.yaml'] })).rows.map((r) => r.prompt_id);
    expect(ids[0]).toBe(ids[1]);
    expect(ids[2]).not.toBe(ids[0]);
  });

  it('a glob matching nothing is bad input', async () => {
    await expect(run(files(), { prompts: ['nothing/*.yaml'] })).rejects.toThrow(/no prompt file matches nothing\/\*\.yaml/);
  });

  it('a plain path names that file alone: a missing one, or a folder, is bad input as a glob matching nothing is', async () => {
    const dir = files();
    expect((await run(dir, { prompts: ['./prompts/b.prompt.yaml'] })).rows.map((r) => r.source)).toEqual(Array(3).fill('prompts/b.prompt.yaml'));
    await expect(run(dir, { prompts: ['prompts/missing.prompt.yaml'] })).rejects.toThrow(/no prompt file matches prompts\/missing\.prompt\.yaml/);
    await expect(run(dir, { prompts: ['prompts'] })).rejects.toThrow(/no prompt file matches prompts\b/);
  });

  it('defaults make a sparse pipeline.yaml work', () => {
    expect(resolveParams.parse({})).toEqual({
      resolve: { prompts: ['data/prompts/**/*.prompt.yaml'], theme: null, style: 'default', seeds: null, fixed: null, count: 0 },
    });
    expect(resolveParams.parse({ resolve: { seeds: 42 } }).resolve.seeds).toBe('42');
  });
});
