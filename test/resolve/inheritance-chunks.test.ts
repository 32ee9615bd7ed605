// implements chains and chunk insertion.
import { describe, expect, it } from 'vitest';
import { plan, project, promptYaml } from './helpers.js';

const tpl = (name: string, body: string) => `name: ${name}\n${body}`;

describe('inheritance', () => {
  it('fills {prompt} down the chain; child over parent for parameters, imports and chunks', () => {
    const dir = project({
      'root.template.yaml': tpl('root', 'template: "best, {prompt}, end"\nparameters: {steps: 20, width: 512}\nimports:\n  C: c1.yaml\n'),
      'mid.template.yaml': tpl('mid', 'implements: root.template.yaml\ntemplate: "mid {C}, {prompt}"\nparameters: {steps: 30}\n'),
      'p.prompt.yaml': promptYaml('leaf', 'implements: mid.template.yaml\nparameters: {cfg_scale: 5}\nimports:\n  C: c2.yaml\n'),
      'c1.yaml': 'one: one\n', 'c2.yaml': 'two: two\n',
    });
    const [row] = plan(dir, 'p.prompt.yaml').rows;
    expect(row!.prompt).toBe('best, mid two, leaf, end');
    expect(row!.params).toEqual({ steps: 30, width: 512, cfg_scale: 5 });
  });

  it('negative: {negprompt} takes the child negative, else a non-empty child negative wins', () => {
    const cases: [string, string, string][] = [
      ['"bad, {negprompt}"', '"ugly"', 'bad, ugly'],
      ['"bad, {negprompt}"', '""', 'bad'],
      ['"bad"', '"ugly"', 'ugly'],
      ['"bad"', '""', 'bad'],
    ];
    for (const [parent, child, expected] of cases) {
      const dir = project({
        't.template.yaml': tpl('t', `template: "{prompt}"\nnegative_prompt: ${parent}\n`),
        'p.prompt.yaml': promptYaml('x', `implements: t.template.yaml\nnegative_prompt: ${child}\n`),
      });
      expect(plan(dir, 'p.prompt.yaml').rows[0]!.negative_prompt).toBe(expected);
    }
  });

  it('output comes from the entry prompt only; session defaults to its name', () => {
    const dir = project({
      't.template.yaml': tpl('t', 'template: "{prompt}"\noutput: {session_name: parent}\n'),
      'p.prompt.yaml': promptYaml('x', 'implements: t.template.yaml\n'),
      'q.prompt.yaml': promptYaml('x', 'implements: t.template.yaml\noutput: {session_name: mine, filename_keys: [A]}\n'),
    });
    expect(plan(dir, 'p.prompt.yaml').rows[0]!.session).toBe('test');
    const q = plan(dir, 'q.prompt.yaml').rows[0]!;
    expect(q.session).toBe('mine');
    expect(q.manifest.output).toMatchObject({ session_name: 'mine', filename_keys: ['A'] });
  });

  it('a cycle in implements is an error naming the files', () => {
    const dir = project({
      'a.template.yaml': tpl('a', 'implements: b.template.yaml\ntemplate: "{prompt}"\n'),
      'b.template.yaml': tpl('b', 'implements: a.template.yaml\ntemplate: "{prompt}"\n'),
      'p.prompt.yaml': promptYaml('x', 'implements: a.template.yaml\n'),
    });
    expect(() => plan(dir, 'p.prompt.yaml')).toThrow(/cycle in implements: .*p\.prompt\.yaml -> .*a\.template\.yaml -> .*b\.template\.yaml -> .*a\.template\.yaml/);
  });

  it('a template must contain {prompt}; a prompt must not', () => {
    const dir = project({
      't.template.yaml': tpl('t', 'template: "no slot"\n'),
      'p.prompt.yaml': promptYaml('x', 'implements: t.template.yaml\n'),
      'q.prompt.yaml': promptYaml('{prompt} again'),
    });
    expect(() => plan(dir, 'p.prompt.yaml')).toThrow(/a template must contain \{prompt\}/);
    expect(() => plan(dir, 'q.prompt.yaml')).toThrow(/a prompt must not contain \{prompt\}/);
  });
});

describe('chunks', () => {
  const chunk = (template: string, extra = '') => `type: character\nname: c\ntemplate: ${JSON.stringify(template)}\n${extra}`;

  it('@NAME inserts the chunk; the chunk brings its imports and defaults', () => {
    const dir = project({
      'p.prompt.yaml': promptYaml('@Girl, smiling', 'chunks:\n  Girl: girl.chunk.yaml\n'),
      'girl.chunk.yaml': chunk('1girl, {Hair}, {Eyes}', 'imports:\n  Hair: hair.yaml\ndefaults:\n  Eyes: green eyes\n'),
      'hair.yaml': 'Bob: bob cut\nLong: long hair\n',
    });
    expect(plan(dir, 'p.prompt.yaml').rows.map((r) => r.prompt)).toEqual(['1girl, bob cut, green eyes, smiling', '1girl, long hair, green eyes, smiling']);
  });

  it('@{NAME with P: ...} fills parameters (split on commas outside braces) over defaults', () => {
    const dir = project({
      'p.prompt.yaml': promptYaml('@{Girl with Eyes: {Color[#1,0]} eyes, Pose: sitting}', 'chunks:\n  Girl: girl.chunk.yaml\nimports:\n  Color: color.yaml\n'),
      'girl.chunk.yaml': chunk('1girl, {Eyes}, {Pose}', 'defaults:\n  Eyes: green eyes\n  Pose: standing\n'),
      'color.yaml': 'red: red\nblue: blue\n',
    });
    expect(plan(dir, 'p.prompt.yaml').rows.map((r) => r.prompt)).toEqual(['1girl, blue eyes, sitting', '1girl, red eyes, sitting']);
  });

  it('@Name.sub walks a namespace import; .chunk.yaml imports load as chunks', () => {
    const dir = project({
      'p.prompt.yaml': promptYaml('@Parts.face, @Body', 'imports:\n  Parts: {face: face.chunk.yaml}\n  Body: body.chunk.yaml\n'),
      'face.chunk.yaml': chunk('round face'),
      'body.chunk.yaml': chunk('slim body'),
    });
    expect(plan(dir, 'p.prompt.yaml').rows[0]!.prompt).toBe('round face, slim body');
  });

  it('an @word naming no chunk stays as written, with a warning', () => {
    const dir = project({ 'p.prompt.yaml': promptYaml('by @artist, cat') });
    const result = plan(dir, 'p.prompt.yaml');
    expect(result.rows[0]!.prompt).toBe('by @artist, cat');
    expect(result.warnings).toEqual(['@artist names no declared chunk; left as written']);
  });

  it('chunk implements: one level, same type, parent imports and defaults under the child', () => {
    const dir = project({
      'p.prompt.yaml': promptYaml('@Kid', 'chunks:\n  Kid: kid.chunk.yaml\n  Bad: bad.chunk.yaml\n'),
      'parent.chunk.yaml': chunk('parent', 'defaults:\n  Eyes: grey eyes\n  Age: adult\n'),
      'kid.chunk.yaml': chunk('{Eyes}, {Age}', 'implements: parent.chunk.yaml\ndefaults:\n  Age: young\n'),
      'bad.chunk.yaml': 'type: scenery\nname: bad\ntemplate: x\nimplements: parent.chunk.yaml\n',
      'q.prompt.yaml': promptYaml('@Bad', 'chunks:\n  Bad: bad.chunk.yaml\n'),
    });
    expect(plan(dir, 'p.prompt.yaml').rows[0]!.prompt).toBe('grey eyes, young');
    expect(() => plan(dir, 'q.prompt.yaml')).toThrow(/expected the same type "scenery"/);
  });
});
