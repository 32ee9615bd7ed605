// pipeline themes list / show / check / new through the real CLI, run inside the
// example project's data folder as an sdgen user would.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { copyExampleProject } from '../example-project.js';
import { pipelineIn } from './cli.js';

const template = 'templates/character.template.yaml';

function project(): string {
  const dir = copyExampleProject();
  const cyberpunk = join(dir, 'data/themes/cyberpunk/theme.yaml');
  writeFileSync(cyberpunk, readFileSync(cyberpunk, 'utf8').replace('variations:', 'tags: [neon, city]\nvariations:'));
  return join(dir, 'data');
}

describe('pipeline themes', () => {
  it('lists the themes, compactly, by tag and by template', async () => {
    const data = project();
    // Run outputs are never searched: a copy of a theme inside a session folder is not a theme.
    mkdirSync(join(data, 'sessions/20250101_000000-x/stray'), { recursive: true });
    writeFileSync(join(data, 'sessions/20250101_000000-x/stray/theme.yaml'), 'name: stray\nimports: {}\n');
    const table = await pipelineIn(data, ['themes', 'list']);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^name\s+styles\s+tags\s+description\s+path$/m);
    expect(table.stdout).toMatch(/^cyberpunk\s+default, cartoon\s+neon, city\s+Neon city.*themes\/cyberpunk\/theme\.yaml$/m);
    expect((await pipelineIn(data, ['themes', 'list', '--compact'])).stdout).toBe('cyberpunk\nfantasy\n');
    expect((await pipelineIn(data, ['themes', 'list', '--compact', '--tag', 'neon'])).stdout).toBe('cyberpunk\n');
    expect((await pipelineIn(data, ['themes', 'list', '--compact', '--template', template])).stdout).toBe('cyberpunk\nfantasy\n');
  });

  it('shows one theme: styles and imports as written', async () => {
    const result = await pipelineIn(project(), ['themes', 'show', 'fantasy']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^fantasy\n {2}path: .*themes\/fantasy\/theme\.yaml\n {2}description: Elves and wizards\n {2}tags: -\n {2}styles: default, cartoon\n/);
    expect(result.stdout).toMatch(/^Pose\.cartoon\s+pose\.cartoon\.yaml$/m);
    expect(result.stdout).toMatch(/^Pose\s+\[Remove\]$/m);
    const unknown = await pipelineIn(project(), ['themes', 'show', 'noir']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown theme "noir"; available themes: cyberpunk, fantasy/);
  });

  it('checks per placeholder: provided, removed, fallback or missing', async () => {
    const data = project();
    const fantasy = await pipelineIn(data, ['themes', 'check', template, 'fantasy', '--style', 'cartoon']);
    expect(fantasy.code, fantasy.stderr).toBe(0);
    expect(fantasy.stdout).toMatch(/^Pose\s+provided$/m);
    expect(fantasy.stdout).toMatch(/^HairColor\s+provided$/m);
    expect(fantasy.stdout).toMatch(/^Lighting\s+fallback$/m);
    expect((await pipelineIn(data, ['themes', 'check', template, 'fantasy'])).stdout).toMatch(/^Pose\s+removed$/m);
    writeFileSync(join(data, 'chunks/subject.chunk.yaml'), 'version: "2.0"\ntype: character\nname: subject\ntemplate: "1girl, {HairColor}, {Freckles}"\n');
    const missing = await pipelineIn(data, ['themes', 'check', template, 'cyberpunk']);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toMatch(/^Freckles\s+missing$/m);
    expect(missing.stdout).toMatch(/missing: Freckles \(no import in the theme or the template\)/);
  });

  it('scaffolds a new theme from another, never overwriting, and plans with it', async () => {
    const data = project();
    const created = await pipelineIn(data, ['themes', 'new', 'noir', '--template', template, '--from', 'cyberpunk']);
    expect(created.code, created.stderr).toBe(0);
    // theme.yaml, and one file per placeholder: Pose and HairColor from cyberpunk, Lighting from the template's chunk.
    expect(created.stdout.match(/^wrote .*$/gm)!.map((l) => l.split('/').pop())).toEqual(['theme.yaml', 'pose.yaml', 'hair-color.yaml', 'lighting.yaml']);
    const themeYaml = readFileSync(join(data, 'themes/noir/theme.yaml'), 'utf8');
    expect(themeYaml).toMatch(/name: noir/);
    expect(themeYaml).toMatch(/Pose: pose\.yaml/);
    const read = (rel: string) => parse(readFileSync(join(data, rel), 'utf8'));
    expect(read('themes/noir/hair-color.yaml')).toEqual(read('themes/cyberpunk/hair-color.yaml'));
    writeFileSync(join(data, 'themes/noir/pose.yaml'), 'Smoking: smoking in the rain\n');
    const again = await pipelineIn(data, ['themes', 'new', 'noir', '--template', template]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/theme noir exists .*; nothing written/);
    expect(readFileSync(join(data, 'themes/noir/pose.yaml'), 'utf8')).toBe('Smoking: smoking in the rain\n');
    const plan = await pipelineIn(data, ['plan', 'prompts/character.prompt.yaml', '--theme', 'noir', '--count', '1', '--format', 'json']);
    expect(plan.code, plan.stderr).toBe(0);
    expect(JSON.parse(plan.stdout)[0].api_prompt).toMatch(/smoking in the rain/);
    expect(read('themes/noir/lighting.yaml')).toEqual(read('variations/lighting.yaml'));
  });
});
