// Themes, the paths rule, normalisation steps, and bad input (old formats, YAML syntax).
import { describe, expect, it } from 'vitest';
import { InputError, InputErrors } from '../../src/errors.js';
import { flattenForApi, normalisePrompt } from '../../stages/resolve/templates/normalise.js';
import { plan, project, promptYaml } from './helpers.js';

const themed = (themesBlock: string, extraImports = '') => ({
  'tpl/t.template.yaml': `name: t\ntemplate: "{prompt}, {Hair}, {Pose}"\nimports:\n  Hair: ../vars/hair.yaml\n  Pose: ../vars/pose.yaml\nthemes:\n${themesBlock}`,
  'p.prompt.yaml': promptYaml('girl', `implements: tpl/t.template.yaml\n${extraImports}`),
  'vars/hair.yaml': 'Bob: bob cut\n',
  'vars/pose.yaml': 'Sit: sitting\n',
  'themes/neon/theme.yaml': 'type: theme_config\nname: neon\nimports:\n  Pose.comic: comic-pose.yaml\n  Hair: hair.yaml\n  Pose: [Remove]\n  Hair.comic: [Remove]\n',
  'themes/neon/hair.yaml': 'Pink: pink hair\n',
  'themes/neon/comic-pose.yaml': 'Jump: jumping\n',
  'other/gold/theme.yaml': 'name: gold\nimports:\n  Hair: gold.yaml\n  Pose: gold.yaml\n',
  'other/gold/gold.yaml': 'Gold: golden\n',
});

describe('themes', () => {
  const discovery = '  enable_autodiscovery: true\n  search_paths: [../themes]\n  explicit: {gold: ../other/gold}\n';

  it('replace the template imports; [Remove] blanks; X.<style> beats X whatever the key order', () => {
    const dir = project(themed(discovery));
    expect(plan(dir, 'p.prompt.yaml').rows[0]!.prompt).toBe('girl, bob cut, sitting');
    const neon = plan(dir, 'p.prompt.yaml', { theme: 'neon' }).rows[0]!;
    expect([neon.prompt, neon.theme, neon.style]).toEqual(['girl, pink hair', 'neon', 'default']);
    expect(plan(dir, 'p.prompt.yaml', { theme: 'neon', style: 'comic' }).rows[0]!.prompt).toBe('girl, jumping');
    expect(plan(dir, 'p.prompt.yaml', { theme: 'gold' }).rows[0]!.prompt).toBe('girl, golden, golden');
  });

  it("the prompt file's own imports go on top of the theme's", () => {
    const dir = project(themed(discovery, 'imports:\n  Pose: vars/pose.yaml\n'));
    expect(plan(dir, 'p.prompt.yaml', { theme: 'neon' }).rows[0]!.prompt).toBe('girl, pink hair, sitting');
  });

  it('autodiscovery is off by default; an unknown theme lists the available ones', () => {
    const dir = project(themed('  explicit: {gold: ../other/gold/theme.yaml}\n'));
    expect(() => plan(dir, 'p.prompt.yaml', { theme: 'neon' })).toThrow(/unknown theme "neon"; available themes: gold/);
  });

  it('a file with no themes block is planned without the theme, with a warning', () => {
    const dir = project({ 'p.prompt.yaml': promptYaml('cat') });
    const result = plan(dir, 'p.prompt.yaml', { theme: 'neon' });
    expect(result.rows[0]!.theme).toBeNull();
    expect(result.warnings[0]).toMatch(/declares no themes block/);
  });
});

describe('paths', () => {
  it("fall back to the entry prompt's folder; a missing file names both places tried", () => {
    const dir = project({
      'prompts/p.prompt.yaml': promptYaml('{Hair}', 'implements: ../tpl/t.template.yaml\n'),
      'tpl/t.template.yaml': 'name: t\ntemplate: "{prompt}"\nimports:\n  Hair: vars/hair.yaml\n',
      'prompts/vars/hair.yaml': 'Bob: bob cut\n',
      'prompts/q.prompt.yaml': promptYaml('{Hair}', 'imports:\n  Hair: nowhere.yaml\n'),
    });
    expect(plan(dir, 'prompts/p.prompt.yaml').rows[0]!.prompt).toBe('bob cut');
    expect(() => plan(dir, 'prompts/q.prompt.yaml')).toThrow(/file not found: nowhere\.yaml \(tried .*prompts\/nowhere\.yaml and .*prompts\/nowhere\.yaml\)/);
  });
});

describe('normalisation', () => {
  it('applies each step in order', () => {
    expect(normalisePrompt('a,,b, ,c')).toBe('a, b, c');
    expect(normalisePrompt('a\n ,\nb')).toBe('a\n\nb');
    expect(normalisePrompt('a ,b,  c')).toBe('a, b, c');
    expect(normalisePrompt('   \n  ')).toBe('');
    expect(normalisePrompt('a,\n\n\n\nb')).toBe('a,\n\nb');
  });

  it('flattens newlines for the backend and normalises again', () => {
    expect(flattenForApi('1girl, beautiful\n\ndetailed background')).toBe('1girl, beautiful, detailed background');
    expect(flattenForApi('a,\nb')).toBe('a, b');
  });
});

describe('bad input', () => {
  const thrown = (fn: () => unknown) => {
    try {
      fn();
    } catch (error) {
      return error instanceof InputErrors ? error.errors[0]! : (error as InputError);
    }
    throw new Error('expected an error');
  };

  it('old list-of-items variations say what the V2.0 form is', () => {
    const dir = project({ 'p.prompt.yaml': promptYaml('{Hair}', 'imports:\n  Hair: hair.yaml\n'), 'hair.yaml': '- red hair\n- blue hair\n' });
    const error = thrown(() => plan(dir, 'p.prompt.yaml'));
    expect(error.message).toMatch(/old list-of-items variations format.*V2\.0 expects a mapping key -> value/);
    expect(error.where.file).toMatch(/hair\.yaml$/);
  });

  it('old type: character files say what the V2.0 form is', () => {
    const dir = project({ 'p.prompt.yaml': promptYaml('{Hero}', 'imports:\n  Hero: hero.yaml\n'), 'hero.yaml': 'type: character\nname: hero\nhair: red\n' });
    expect(thrown(() => plan(dir, 'p.prompt.yaml')).message).toMatch(/old `type: character` file.*chunk file/);
  });

  it('an existing .txt variations file (sdgen V1) is rejected, not rendered as its name', () => {
    const dir = project({ 'p.prompt.yaml': promptYaml('{Hair}', 'imports:\n  Hair: hair.txt\n'), 'hair.txt': 'bob: bob cut\n' });
    expect(thrown(() => plan(dir, 'p.prompt.yaml')).format()).toMatch(/p\.prompt\.yaml:\d+:\d+: imports\.Hair: hair\.txt is an old-format variations file.*rename it to \.yaml/);
  });

  it('YAML syntax errors carry line and column', () => {
    const dir = project({ 'p.prompt.yaml': 'name: x\nprompt: "unclosed\ngeneration: {\n' });
    const error = thrown(() => plan(dir, 'p.prompt.yaml'));
    expect(error.message).toMatch(/YAML syntax error/);
    expect(error.where.line).toBeGreaterThan(0);
    expect(error.where.col).toBeGreaterThan(0);
  });

  it('every bad value of a variations file is reported at its key', () => {
    const dir = project({ 'p.prompt.yaml': promptYaml('{Hair}', 'imports:\n  Hair: hair.yaml\n'), 'hair.yaml': 'Bob: bob\nBad: [a, b]\nWorse: [c]\n' });
    try {
      plan(dir, 'p.prompt.yaml');
      throw new Error('expected an error');
    } catch (error) {
      expect((error as InputErrors).errors.map((e) => e.format().replace(dir, ''))).toEqual([
        expect.stringMatching(/^\/hair\.yaml:2:6: Bad: expected a text or a multipart mapping/),
        expect.stringMatching(/^\/hair\.yaml:3:8: Worse: expected a text or a multipart mapping/),
      ]);
    }
  });

  it('schema problems name the field and its line', () => {
    const dir = project({ 'p.prompt.yaml': 'name: x\nprompt: cat\ngeneration:\n  mode: combinatorial\n  seed: one\n  seed_mode: fixed\n  max_images: 0\n' });
    const error = thrown(() => plan(dir, 'p.prompt.yaml'));
    expect(error.format()).toMatch(/p\.prompt\.yaml:5:9: generation\.seed: .*expected number/);
  });
});
