// The worked examples at the end of spec/templates.md, from sdgen's own behaviour.
import { describe, expect, it } from 'vitest';
import { inlineKey } from '../../stages/resolve/templates/imports.js';
import { normalisePrompt } from '../../stages/resolve/templates/normalise.js';
import { parseSeedSweep } from '../../stages/resolve/templates/seeds.js';
import { plan, project, promptYaml } from './helpers.js';

const imports = (names: string[]) => `imports:\n${names.map((n) => `  ${n}: ${n.toLowerCase()}.yaml`).join('\n')}\n`;

describe('worked examples', () => {
  it('lowest weight is the outermost loop', () => {
    const dir = project({
      'p.prompt.yaml': promptYaml('{Outfit[$2]}, {Angle[$10]}', imports(['Outfit', 'Angle'])),
      'outfit.yaml': 'casual: casual\nformal: formal\n',
      'angle.yaml': 'front: front\nside: side\n',
    });
    expect(plan(dir, 'p.prompt.yaml').rows.map((r) => r.prompt)).toEqual([
      'casual, front', 'casual, side', 'formal, front', 'formal, side',
    ]);
  });

  it('weight 0 is drawn per image, not enumerated; progressive seeds', () => {
    const dir = project({
      'p.prompt.yaml': promptYaml('{Style[$1]}, {Subject[$5]}, {Quality[$0]}, detailed', imports(['Style', 'Subject', 'Quality'])),
      'style.yaml': 'anime: anime\nrealistic: realistic\n',
      'subject.yaml': 'cat: cat\ndog: dog\n',
      'quality.yaml': 'hq: high quality\nmq: medium quality\nlq: low quality\n',
    });
    const rows = plan(dir, 'p.prompt.yaml').rows;
    expect(rows).toHaveLength(4);
    expect(rows.map((r) => r.variations.Style!.key)).toEqual(['anime', 'anime', 'realistic', 'realistic']);
    expect(rows.map((r) => r.seed)).toEqual([1, 2, 3, 4]);
    for (const r of rows) expect(r.prompt).toMatch(/^(anime|realistic), (cat|dog), (high|medium|low) quality, detailed$/);
  });

  it('index list keeps the listed values', () => {
    const colors = Array.from({ length: 10 }, (_, i) => `color${i}: color${i}`).join('\n');
    const dir = project({ 'p.prompt.yaml': promptYaml('{Color[#0,2,4]}', imports(['Color'])), 'color.yaml': colors });
    expect(plan(dir, 'p.prompt.yaml').rows.map((r) => r.prompt)).toEqual(['color0', 'color2', 'color4']);
  });

  it('normalises doubled commas and spaces; repeated names render the same value', () => {
    const dir = project({
      'a.prompt.yaml': promptYaml('{Color},,  {Size}  ', imports(['Color', 'Size'])),
      'b.prompt.yaml': promptYaml('{Color}, {Color}', imports(['Color'])),
      'color.yaml': 'red: red\nblue: blue\n',
      'size.yaml': 'large: large\n',
    });
    expect(plan(dir, 'a.prompt.yaml').rows.map((r) => r.prompt)).toEqual(['red, large', 'blue, large']);
    expect(plan(dir, 'b.prompt.yaml').rows.map((r) => r.prompt)).toEqual(['red, red', 'blue, blue']);
  });

  it('normalises leading commas, blank lines and trailing commas', () => {
    expect(normalisePrompt('  , 1girl,, beautiful  \n\n\n  detailed background,  ')).toBe('1girl, beautiful\n\ndetailed background');
  });

  it('inline import keys are MD5-8 of the raw item', () => {
    expect(inlineKey('luxury living room')).toBe('66aa3689');
    expect(inlineKey('"luxury room"')).toBe('363786cc');
  });

  it('seed sweeps: count#start, negative ranges, start > end is an error', () => {
    expect(parseSeedSweep('5#-2')).toEqual([-2, -1, 0, 1, 2]);
    expect(parseSeedSweep('-10--1')).toEqual([-10, -9, -8, -7, -6, -5, -4, -3, -2, -1]);
    expect(() => parseSeedSweep('1000--1')).toThrow(/start 1000 is greater than end -1/);
  });
});
