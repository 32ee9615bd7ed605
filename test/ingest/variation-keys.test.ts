// Mapping sdgen's value texts back to keys through variation files.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { VariationIndex } from '../../stages/ingest/variation-keys.js';

function index(files: Record<string, string>): VariationIndex {
  const dir = mkdtempSync(join(tmpdir(), 'sdloop-vars-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return new VariationIndex([dir], dir);
}

const keyOf = (m: ReturnType<VariationIndex['map']>) => ('mapped' in m ? m.mapped.key : null);

describe('VariationIndex', () => {
  const vars = index({
    'hair.yaml': 'Blonde: "blonde hair"\nBlack: "black hair"\n',
    'fur.yaml': 'Black: "black fur"\nWhite: "white fur"\n',
    'multi/outfit.yaml': 'Suit:\n  main: "formal suit"\n  lora: "<lora:suit:0.7>"\nDress: "red dress"\n',
    'a.prompt.yaml': 'type: prompt\nname: p\nprompt: x\n',
  });

  it('maps a plain text and the main part of a multipart value, case and spacing aside', () => {
    expect(keyOf(vars.map('Hair', 'Blonde  Hair'))).toBe('Blonde');
    const suit = vars.map('Outfit', 'formal suit');
    expect('mapped' in suit && suit.mapped).toMatchObject({ key: 'Suit', text: 'formal suit', set: { keys: ['Suit', 'Dress'], texts: ['formal suit', 'red dress'] } });
  });

  it('resolves a pinned key that two files hold by the text the image rendered', () => {
    expect(keyOf(vars.map('Fur', 'black fur', [], 'Black'))).toBe('Black');
    const fur = vars.map('Fur', 'black fur', [], 'Black');
    expect('mapped' in fur && fur.mapped.set.texts).toEqual(['black fur', 'white fur']);
    const unknown = vars.map('Fur', 'striped fur', [], 'Striped');
    expect('unresolved' in unknown && unknown.unresolved).toMatchObject({ key: null, reason: 'pinned key Striped is in no variations file' });
  });

  it('names a plain folder\'s axes by the placeholder the templates import each file as', () => {
    const base = mkdtempSync(join(tmpdir(), 'sdloop-axes-'));
    const files: Record<string, string> = {
      'variations/hair.yaml': 'Blonde: "blonde hair"\nBlack: "black hair"\n',
      'variations/fur.yaml': 'Black: "black fur"\nWhite: "white fur"\n',
      'variations/mood.yaml': 'Gloomy: "gloomy"\n',
      'prompts/a.prompt.yaml': 'name: a\nprompt: "{HairColor}, {FurColor}"\nimports:\n  HairColor: ../variations/hair.yaml\n  FurColor: [../variations/fur.yaml, "spotted fur"]\n',
      'prompts/b.prompt.yaml': 'name: b\nprompt: "{Hair}"\nimports:\n  Hair: ../variations/hair.yaml\n',
      'templates/c.template.yaml': 'name: c\ntemplate: "{prompt}, {HairColor}"\nimports:\n  HairColor: variations/hair.yaml\n',
    };
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(join(base, name, '..'), { recursive: true });
      writeFileSync(join(base, name), text);
    }
    const named = new VariationIndex([join(base, 'variations')], base, [join(base, 'prompts'), join(base, 'templates')]);
    const axes = named.findInPrompt('masterpiece, black hair, white fur, gloomy').map((m) => ('mapped' in m ? [m.axis, m.mapped.key] : null));
    // hair.yaml is HairColor twice and Hair once; mood.yaml is imported by none, so it keeps its file name.
    expect(axes).toEqual([['HairColor', 'Black'], ['FurColor', 'White'], ['mood', 'Gloomy']]);
  });

  it('leaves prompt and template files out of the index', () => {
    expect(vars.files.map((f) => f.split('/').at(-1)).sort()).toEqual(['fur.yaml', 'hair.yaml', 'outfit.yaml']);
  });
});
