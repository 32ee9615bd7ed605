// imports: single files, merged lists with inline texts, collisions, multipart values.
import { describe, expect, it } from 'vitest';
import { collisionPrefix } from '../../stages/resolve/templates/imports.js';
import { plan, project, promptYaml } from './helpers.js';

describe('imports', () => {
  it('merges files and inline texts in order; inline keys are MD5-8 with quotes removed from the value', () => {
    const dir = project({
      'p.prompt.yaml': promptYaml('{Room}', `imports:\n  Room: [rooms.yaml, "luxury living room", '"luxury room"']\n`),
      'rooms.yaml': 'Kitchen: kitchen\n',
    });
    const rows = plan(dir, 'p.prompt.yaml').rows;
    expect(rows.map((r) => r.variations.Room!.key)).toEqual(['Kitchen', '66aa3689', '363786cc']);
    expect(rows.map((r) => r.prompt)).toEqual(['kitchen', 'luxury living room', 'luxury room']);
  });

  it('a single inline text is one value', () => {
    const dir = project({ 'p.prompt.yaml': promptYaml('{Q}, cat', 'imports:\n  Q: "masterpiece"\n') });
    expect(plan(dir, 'p.prompt.yaml').rows.map((r) => r.prompt)).toEqual(['masterpiece, cat']);
  });

  it('renames a colliding file key with the source path prefix', () => {
    expect(collisionPrefix('../variations/hair.yaml')).toBe('variations__hair');
    expect(collisionPrefix('./more.hair.yaml')).toBe('more_hair');
    const dir = project({
      'sub/p.prompt.yaml': promptYaml('{Hair}', 'imports:\n  Hair: [../a.yaml, ../variations/hair.yaml]\n'),
      'a.yaml': 'Bob: bob a\n',
      'variations/hair.yaml': 'Bob: bob b\nLong: long\n',
    });
    const rows = plan(dir, 'sub/p.prompt.yaml').rows;
    expect(rows.map((r) => r.variations.Hair!.key)).toEqual(['Bob', 'variations__hair__Bob', 'Long']);
    expect(rows[1]!.prompt).toBe('bob b');
  });

  it('keeps file order for # indexes, even for integer-like keys; structured files ignore metadata', () => {
    const dir = project({
      'p.prompt.yaml': promptYaml('{N[#0-1]}, {L}', 'imports:\n  N: n.yaml\n  L: l.yaml\n'),
      'n.yaml': '"3": three\n"1": one\n"2": two\n',
      'l.yaml': 'description: places\nvariations:\n  Here: here\n',
    });
    expect(plan(dir, 'p.prompt.yaml').rows.map((r) => r.prompt)).toEqual(['three, here', 'one, here']);
  });

  it('multipart values: main, else the alphabetically first part; named parts; missing part renders ""', () => {
    const dir = project({
      'p.prompt.yaml': promptYaml('{Hair}|{Hair:lora}|{Hair:nope}', 'imports:\n  Hair: hair.yaml\n'),
      'hair.yaml': 'Bob: {main: bob cut, lora: "<lora:bob:0.7>"}\nLong: {zeta: z, alpha: long hair}\n',
    });
    const rows = plan(dir, 'p.prompt.yaml').rows;
    expect(rows.map((r) => r.prompt)).toEqual(['bob cut|<lora:bob:0.7>|', 'long hair||']);
    expect(rows[0]!.variations.Hair).toEqual({
      key: 'Bob', value: { main: 'bob cut', lora: '<lora:bob:0.7>' }, text: 'bob cut', alternatives: expect.any(String),
    });
    expect(plan(dir, 'p.prompt.yaml').axes).toEqual([expect.objectContaining({ axis: 'Hair', keys: ['Bob', 'Long'], texts: ['bob cut', 'long hair'] })]);
  });

  it('placeholders in the negative prompt render the value chosen for the prompt', () => {
    const dir = project({
      'p.prompt.yaml': promptYaml('{Hair}', 'negative_prompt: "not {Hair:not}, ugly"\nimports:\n  Hair: hair.yaml\n'),
      'hair.yaml': 'Bob: {main: bob cut, not: long hair}\nLong: {main: long hair, not: short hair}\n',
    });
    expect(plan(dir, 'p.prompt.yaml').rows.map((r) => [r.prompt, r.negative_prompt])).toEqual([
      ['bob cut', 'not long hair, ugly'], ['long hair', 'not short hair, ugly'],
    ]);
  });

  it('part access on a plain value is an error', () => {
    const dir = project({ 'p.prompt.yaml': promptYaml('{Hair:lora}', 'imports:\n  Hair: hair.yaml\n'), 'hair.yaml': 'Bob: bob cut\n' });
    expect(() => plan(dir, 'p.prompt.yaml')).toThrow(/value Bob is plain text, not a multipart value/);
  });

  it('unknown placeholders list the missing names and the available imports', () => {
    const dir = project({ 'p.prompt.yaml': promptYaml('{A}, {B}, {Hair}', 'imports:\n  Hair: "x"\n  Eyes: "y"\n') });
    expect(() => plan(dir, 'p.prompt.yaml')).toThrow(/unknown placeholders: A, B; .*available imports: Eyes, Hair/);
  });
});
