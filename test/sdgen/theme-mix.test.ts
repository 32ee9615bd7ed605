// Several themes in one run (each image from one theme, shared by weight) and run plans
// (resolve.runs, each its own session), through plan, run and sql of the real CLI.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { copyExampleProject } from '../example-project.js';
import { pipelineIn } from './cli.js';

type Row = { theme: string; idx: number; session: string; prompt: string; variations: Record<string, { key: string }>; manifest: Record<string, unknown> };

async function plan(dir: string, args: string[]): Promise<Row[]> {
  const result = await pipelineIn(dir, ['plan', 'data/prompts/character.prompt.yaml', '--format', 'json', ...args]);
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as Row[];
}

describe('several themes in one plan', () => {
  it('shares the images by weight, each image taking every value from its theme', async () => {
    const dir = copyExampleProject();
    const rows = await plan(dir, ['--theme', 'cyberpunk:50,fantasy:30', '--count', '16']);
    expect(rows.map((r) => r.theme).filter((t) => t === 'cyberpunk')).toHaveLength(10);
    expect(rows.map((r) => r.theme).filter((t) => t === 'fantasy')).toHaveLength(6);
    const only = { cyberpunk: await plan(dir, ['--theme', 'cyberpunk']), fantasy: await plan(dir, ['--theme', 'fantasy']) };
    for (const row of rows) {
      // The same image as that theme's own plan has: same prompt, all of its values.
      expect(only[row.theme as 'cyberpunk' | 'fantasy'].map((r) => r.prompt)).toContain(row.prompt);
    }
    expect(rows.filter((r) => r.theme === 'fantasy').map((r) => r.idx)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(rows[0]!.manifest).toMatchObject({ theme_name: 'cyberpunk', theme_mix: 'cyberpunk:50,fantasy:30', generation_params: { num_images: 10 } });
  });

  it('a plain list shares equally; a bad weight names the theme', async () => {
    const dir = copyExampleProject();
    const rows = await plan(dir, ['--theme', 'cyberpunk,fantasy', '--count', '6']);
    expect(rows.map((r) => r.theme)).toEqual(['cyberpunk', 'fantasy', 'cyberpunk', 'fantasy', 'cyberpunk', 'fantasy']);
    const bad = await pipelineIn(dir, ['plan', 'data/prompts/character.prompt.yaml', '--theme', 'cyberpunk:lots']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/theme "cyberpunk:lots": expected NAME or NAME:WEIGHT with a weight > 0/);
  });

  it('pipeline run records each image theme in prompts and puts it in its theme session', async () => {
    const dir = copyExampleProject();
    const set = ['--set', 'resolve.prompts=[data/prompts/character.prompt.yaml]', '--set', 'resolve.count=4', '--set', 'resolve.theme={cyberpunk: 3, fantasy: 1}'];
    const run = await pipelineIn(dir, ['run', 'generate', ...set]);
    expect(run.code, run.stderr).toBe(0);
    const sql = await pipelineIn(dir, ['sql', '--format', 'json', 'select theme, count(*)::int as n from planned group by theme order by theme', ...set]);
    expect(JSON.parse(sql.stdout)).toEqual([{ theme: 'cyberpunk', n: 3 }, { theme: 'fantasy', n: 1 }]);
    const sessions = readdirSync(join(dir, 'data/sessions')).map((s) => s.replace(/^\d{8}_\d{6}-/, '')).sort();
    expect(sessions).toEqual(['character-cyberpunk-default', 'character-fantasy-default']);
    const fantasy = readdirSync(join(dir, 'data/sessions')).find((s) => s.endsWith('-fantasy-default'))!;
    const manifest = JSON.parse(readFileSync(join(dir, 'data/sessions', fantasy, 'manifest.json'), 'utf8'));
    expect(manifest.snapshot.theme_name).toBe('fantasy');
    expect(manifest.images).toHaveLength(1);
  });
});

describe('run plans', () => {
  it('plans each entry of resolve.runs as its own session', async () => {
    const dir = copyExampleProject();
    const runs = '[{prompts: data/prompts/character.prompt.yaml, theme: cyberpunk, count: 2, seeds: "2#100"}, {name: pets, prompts: [data/prompts/pet.prompt.yaml], count: 1}]';
    const set = ['--set', `resolve.runs=${runs}`];
    const run = await pipelineIn(dir, ['run', 'resolve', ...set]);
    expect(run.code, run.stderr).toBe(0);
    const sql = await pipelineIn(dir, ['sql', '--format', 'json', 'select session, theme, seed from planned order by session, idx', ...set]);
    expect(JSON.parse(sql.stdout)).toEqual([
      { session: 'character-run1', theme: 'cyberpunk', seed: 100 },
      { session: 'character-run1', theme: 'cyberpunk', seed: 101 },
      { session: 'pet-pets', theme: null, seed: expect.any(Number) },
    ]);
    const only = "[{prompts: [data/batch/broken.prompt.yaml]}]";
    const { mkdirSync, writeFileSync } = await import('node:fs');
    mkdirSync(join(dir, 'data/batch'));
    // Outside the folders of resolve.prompts: validate finds it through the run plan only.
    writeFileSync(join(dir, 'data/batch/broken.prompt.yaml'), 'name: broken\nprompt: "{Nope}"\ngeneration:\n  mode: combinatorial\n  seed: 1\n  seed_mode: fixed\n  max_images: 0\n');
    const validate = await pipelineIn(dir, ['validate', '--set', 'resolve.prompts=[data/prompts/pet.prompt.yaml]', '--set', `resolve.runs=${only}`]);
    expect(validate.code).toBe(2);
    expect(validate.stderr).toMatch(/broken\.prompt\.yaml:2:9: prompt: unknown placeholders: Nope/);
  });
});
