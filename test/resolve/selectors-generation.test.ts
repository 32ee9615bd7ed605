// Selectors, combinatorial and random modes, seeds, sweeps and fixed placeholders.
import { describe, expect, it } from 'vitest';
import { parseSelector } from '../../stages/resolve/templates/selectors.js';
import { parseFixed, parseSeedSweep } from '../../stages/resolve/templates/seeds.js';
import { plan, project, promptYaml } from './helpers.js';

const letters = 'A: a\nB: b\nC: c\nD: d\nE: e\n';
const gen = (mode: string, seed: number, seedMode: string, max: number) => `mode: ${mode}\n  seed: ${seed}\n  seed_mode: ${seedMode}\n  max_images: ${max}`;
const one = (prompt: string, generation?: string, files: Record<string, string> = {}) =>
  project({ 'p.prompt.yaml': promptYaml(prompt, 'imports:\n  L: l.yaml\n  N: n.yaml\n', generation), 'l.yaml': letters, 'n.yaml': 'one: 1\ntwo: 2\nthree: 3\n', ...files });
const prompts = (dir: string, options = {}) => plan(dir, 'p.prompt.yaml', options).rows.map((r) => r.prompt);

describe('selectors', () => {
  it('parses each rule, first match per part', () => {
    expect(parseSelector('$3')).toEqual({ weight: 3 });
    expect(parseSelector('$0; #1-3')).toEqual({ weight: 0, indexes: [1, 2, 3] });
    expect(parseSelector('#4,0,2')).toEqual({ weight: 1, indexes: [4, 0, 2] });
    expect(parseSelector('2')).toEqual({ weight: 1, limit: 2 });
    expect(parseSelector('random:2')).toEqual({ weight: 1, limit: 2 });
    expect(parseSelector('Bob, long')).toEqual({ weight: 1, keys: ['Bob', 'long'] });
    expect(parseSelector('Bob')).toEqual({ weight: 1, keys: ['Bob'] });
    expect(() => parseSelector('bob')).toThrow(/unknown selector text "bob"/);
  });

  it('index ranges, lists (order kept), key lists; out-of-range and unknown dropped', () => {
    expect(prompts(one('{L[#1-2]}'))).toEqual(['b', 'c']);
    expect(prompts(one('{L[#4,0,9]}'))).toEqual(['e', 'a']);
    expect(prompts(one('{L[D,A,Zed]}'))).toEqual(['d', 'a']);
  });

  it('indexes beat keys beat limits', () => {
    expect(prompts(one('{L[#0; C,D; 1]}'))).toEqual(['a']);
    expect(prompts(one('{L[C,D; 1]}'))).toEqual(['c', 'd']);
  });

  it('a limit draws N values deterministically; all in file order when N >= count', () => {
    const drawn = prompts(one('{L[2]}'));
    expect(drawn).toHaveLength(2);
    expect(prompts(one('{L[2]}'))).toEqual(drawn);
    expect(prompts(one('{L[random:9]}'))).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('a selector keeping nothing is an error (sdgen silently used all values)', () => {
    expect(() => plan(one('{L[#7]}'), 'p.prompt.yaml')).toThrow(/\{L\[#7\]\}: selector keeps no value \(available keys: A, B, C, D, E\)/);
  });

  it('unknown selector text names the file and the placeholder', () => {
    expect(() => plan(one('{L[nope]}'), 'p.prompt.yaml')).toThrow(/placeholder \{L\[nope\]\}: unknown selector text "nope"/);
    try {
      plan(one('{L[nope]}'), 'p.prompt.yaml');
    } catch (error) {
      expect((error as { where: { file: string } }).where.file).toMatch(/p\.prompt\.yaml$/);
      expect((error as { where: { line: number } }).where.line).toBe(3);
    }
  });

  it('repeated names render one value; the last selector counts', () => {
    expect(prompts(one('{L[#0]} and {L[#1-2]}'))).toEqual(['b and b', 'c and c']);
  });
});

describe('combinatorial', () => {
  it('stable-sorts by weight, first outermost, and stops at max_images', () => {
    expect(prompts(one('{L[#0-1]} {N}'))).toEqual(['a 1', 'a 2', 'a 3', 'b 1', 'b 2', 'b 3']);
    expect(prompts(one('{L[#0-1;$5]} {N[$2]}'))).toEqual(['a 1', 'b 1', 'a 2', 'b 2', 'a 3', 'b 3']);
    expect(prompts(one('{L[#0-1]} {N}', gen('combinatorial', 1, 'fixed', 4)))).toHaveLength(4);
  });

  it('refuses an uncapped plan of more than ten million images', () => {
    const files = Object.fromEntries(['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H'].map((n) => [`${n}.yaml`, Array.from({ length: 10 }, (_, i) => `k${i}: v${i}`).join('\n')]));
    const imports = Object.keys(files).map((f) => `  ${f[0]}: ${f}`).join('\n');
    const dir = project({ ...files, 'p.prompt.yaml': promptYaml('{A}{B}{C}{D}{E}{F}{G}{H}', `imports:\n${imports}\n`) });
    expect(() => plan(dir, 'p.prompt.yaml')).toThrow(/100000000 combinations is more than 10000000 images; set generation.max_images/);
    expect(plan(dir, 'p.prompt.yaml', { count: 3 }).rows).toHaveLength(3);
  });

  it('a template with no placeholders gives one prompt with generation.seed', () => {
    const rows = plan(one('just a cat', gen('combinatorial', 77, 'random', 0)), 'p.prompt.yaml').rows;
    expect(rows.map((r) => [r.prompt, r.seed])).toEqual([['just a cat', 77]]);
  });
});

describe('random mode', () => {
  it('draws unique combinations, at most max_images, deterministically', () => {
    const dir = one('{L} {N}', gen('random', 5, 'fixed', 10));
    const rows = plan(dir, 'p.prompt.yaml').rows;
    expect(rows).toHaveLength(10);
    expect(new Set(rows.map((r) => r.prompt)).size).toBe(10);
    expect(rows.every((r) => r.seed === 5)).toBe(true);
    expect(plan(dir, 'p.prompt.yaml').rows.map((r) => r.prompt)).toEqual(rows.map((r) => r.prompt));
    expect(plan(one('{L} {N}', gen('random', 5, 'fixed', 100)), 'p.prompt.yaml').rows).toHaveLength(15);
  });

  it('counts combinations unique by value: keys with the same value are one choice', () => {
    const dir = one('{L}', gen('random', 5, 'fixed', 10), { 'l.yaml': 'A: a\nB: a\nC: c\n' });
    expect(prompts(dir)).toHaveLength(2);
    expect(new Set(prompts(dir))).toEqual(new Set(['a', 'c']));
  });

  it('requires max_images > 0', () => {
    expect(() => plan(one('{L}', gen('random', 5, 'fixed', 0)), 'p.prompt.yaml')).toThrow(/random mode needs generation.max_images > 0/);
  });
});

describe('seeds', () => {
  it('fixed, progressive and random seed modes', () => {
    const seeds = (mode: string) => plan(one('{N}', gen('combinatorial', 10, mode, 0)), 'p.prompt.yaml').rows.map((r) => r.seed);
    expect(seeds('fixed')).toEqual([10, 10, 10]);
    expect(seeds('progressive')).toEqual([10, 11, 12]);
    const random = seeds('random');
    expect(new Set(random).size).toBe(3);
    expect(seeds('random')).toEqual(random);
  });

  it('seed -1 draws the base seed once and records it in the plan', () => {
    const rows = plan(one('{N}', gen('combinatorial', -1, 'progressive', 0)), 'p.prompt.yaml').rows;
    const base = (rows[0]!.manifest.generation_params as { base_seed: number }).base_seed;
    expect(base).toBeGreaterThanOrEqual(0);
    expect(rows.map((r) => r.seed)).toEqual([base, base + 1, base + 2]);
  });

  it('parses every sweep form', () => {
    expect(parseSeedSweep('3#100')).toEqual([100, 101, 102]);
    expect(parseSeedSweep('1,,5, 9')).toEqual([1, 5, 9]);
    expect(parseSeedSweep('-5-5')).toHaveLength(11);
    expect(parseSeedSweep('42')).toEqual([42]);
    expect(() => parseSeedSweep('0#5')).toThrow(/must be > 0/);
    expect(() => parseSeedSweep('abc')).toThrow(/expected COUNT#START/);
  });

  it('combinatorial sweep: each combination once per seed, seed innermost, max_images caps the total', () => {
    const rows = plan(one('{N}', gen('combinatorial', 1, 'progressive', 5)), 'p.prompt.yaml', { seeds: '2#7' }).rows;
    expect(rows.map((r) => `${r.prompt}@${r.seed}`)).toEqual(['1@7', '1@8', '2@7', '2@8', '3@7']);
    expect(rows[0]!.manifest.generation_params).toMatchObject({ seed_list: [7, 8] });
  });

  it('random sweep: ceil(max_images / #seeds) combinations, each over all seeds', () => {
    const rows = plan(one('{L} {N}', gen('random', 1, 'fixed', 5)), 'p.prompt.yaml', { seeds: '1,2' }).rows;
    expect(rows).toHaveLength(6);
    expect(rows.map((r) => r.seed)).toEqual([1, 2, 1, 2, 1, 2]);
    expect(rows[0]!.prompt).toBe(rows[1]!.prompt);
  });
});

describe('fixed placeholders', () => {
  it('parses Name:key|Name2:key2 on the first colon', () => {
    expect([...parseFixed(' L : B | N:odd:key ')]).toEqual([['L', 'B'], ['N', 'odd:key']]);
  });

  it('pins a placeholder to one key; an unknown key lists the available keys', () => {
    expect(prompts(one('{L} {N}'), { fixed: 'L:C|N:two' })).toEqual(['c 2']);
    expect(() => plan(one('{L}'), 'p.prompt.yaml', { fixed: 'L:Zed' })).toThrow(/fixed L:Zed: unknown key; available keys: A, B, C, D, E/);
  });

  it('the count cap limits the plan', () => {
    expect(prompts(one('{L} {N}'), { count: 4 })).toHaveLength(4);
  });
});
