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

  it('leaves prompt and template files out of the index', () => {
    expect(vars.files.map((f) => f.split('/').at(-1)).sort()).toEqual(['fur.yaml', 'hair.yaml', 'outfit.yaml']);
  });
});
