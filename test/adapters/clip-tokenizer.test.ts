import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanClipText, unescapeHtml } from '../../adapters/clip-text-clean.js';
import {
  CLIP_CONTEXT,
  CLIP_VOCAB_SIZE,
  EOT_ID,
  buildClipTokenizerJson,
  encodeClip,
  loadClipTokenizer,
} from '../../adapters/clip-tokenizer.js';

// Expected ids come from OpenAI's simple_tokenizer.py run on the same merges file.
const reference: Record<string, number[]> = {
  'a photo of a cat': [49406, 320, 1125, 539, 320, 2368, 49407],
  "Hello,   World! It's 2024 neon_blue": [49406, 3306, 267, 1002, 256, 585, 568, 273, 271, 273, 275, 13919, 318, 1746, 49407],
  'a picture of a person with gala dress': [49406, 320, 1674, 539, 320, 2533, 593, 7211, 2595, 49407],
  'café naïve 日本': [49406, 15304, 1097, 35689, 563, 39121, 19277, 361, 49407],
  'red hair, blue eyes': [49406, 736, 2225, 267, 1746, 3095, 49407],
  'masterpiece (best quality:1.2)': [49406, 12066, 263, 949, 3027, 281, 272, 269, 273, 264, 49407],
};

// Texts OpenAI's tokenizer cleans before BPE (ftfy.fix_text, then html.unescape twice).
// Expected ids from an independent Python port of simple_tokenizer.py over
// /work/shared/clip's merges file: ftfy's fixers that apply here (uncurl_quotes,
// fix_latin_ligatures, fix_character_width as NFKC of U+FF01..U+FFEF, unescape_html
// skipped when the text holds "<") written out with Python's unicodedata and html
// modules; the port reproduces 'a photo of a cat' -> 320 1125 539 320 2368 above.
const cleaned: Record<string, { clean: string; ids: number[] }> = {
  'it’s a “neon” sign': { clean: 'it\'s a "neon" sign', ids: [49406, 585, 568, 320, 257, 13919, 257, 2292, 49407] },
  'don’t stop': { clean: "don't stop", ids: [49406, 847, 713, 1691, 49407] },
  'ｒｅｄ\u3000ｈａｉｒ，ｂｌｕｅ\u3000ｅｙｅｓ！': { clean: 'red hair,blue eyes!', ids: [49406, 736, 2225, 267, 1746, 3095, 256, 49407] },
  'Ｔｅｓｔ１２３': { clean: 'test123', ids: [49406, 1628, 272, 273, 274, 49407] },
  'a ﬁne ﬂower ﬁeld': { clean: 'a fine flower field', ids: [49406, 320, 3797, 4055, 1570, 49407] },
  'salt &amp; pepper': { clean: 'salt & pepper', ids: [49406, 6611, 261, 8253, 49407] },
  // ftfy unescapes once, basic_clean twice more.
  'tom &amp;amp; jerry': { clean: 'tom & jerry', ids: [49406, 2435, 261, 9164, 49407] },
  'a &lt;b&gt; tag': { clean: 'a <b> tag', ids: [49406, 320, 283, 321, 285, 3640, 49407] },
  // A "<" in the text keeps ftfy from unescaping; basic_clean's two passes still do.
  'a <b>&amp;amp;</b> c': { clean: 'a <b>&</b> c', ids: [49406, 320, 283, 321, 29, 5, 34308, 321, 285, 322, 49407] },
  '&#39;quoted&#39; &copy; 2024': { clean: "'quoted' © 2024", ids: [49406, 262, 27706, 262, 5811, 273, 271, 273, 275, 49407] },
};

// OpenAI's pattern matches <|endoftext|> first and gives 49407 mid-prompt ('cat' 49407 'dog'
// there: [49406, 2368, 49407, 1929, 49407]); here it is text, split as punctuation, letters,
// punctuation: '<|' -> 27 347, 'endoftext' -> 40786 4160, '|>' -> 91 285.
const literalSpecial: Record<string, number[]> = {
  'cat<|endoftext|>dog': [49406, 2368, 27, 347, 40786, 4160, 91, 285, 1929, 49407],
  'a photo <|endoftext|> of a cat': [49406, 320, 1125, 27, 347, 40786, 4160, 91, 285, 539, 320, 2368, 49407],
};

function unpadded(ids: number[]): number[] {
  const end = ids.indexOf(EOT_ID);
  return ids.slice(0, end + 1);
}

describe('CLIP tokenizer built from the merges file', () => {
  it('has the 49,408-id vocabulary of CLIP', () => {
    const json = buildClipTokenizerJson() as { model: { vocab: Record<string, number>; merges: string[] } };
    expect(Object.keys(json.model.vocab)).toHaveLength(CLIP_VOCAB_SIZE);
    expect(json.model.merges).toHaveLength(48894);
    expect(json.model.vocab['a</w>']).toBe(320);
  });

  it('gives the original CLIP ids', async () => {
    for (const [text, ids] of Object.entries(reference)) {
      const encoded = await encodeClip(text);
      expect(encoded).toHaveLength(CLIP_CONTEXT);
      expect(unpadded(encoded), text).toEqual(ids);
    }
  });

  it("cleans text as OpenAI's tokenizer does: quotes, fullwidth forms, ligatures, HTML entities", async () => {
    for (const [text, { clean, ids }] of Object.entries(cleaned)) {
      expect(cleanClipText(text), text).toBe(clean);
      expect(unpadded(await encodeClip(text)), text).toEqual(ids);
    }
  });

  it("unescapes as Python's html.unescape: numeric, named, legacy names without a semicolon", () => {
    expect(unescapeHtml('&#x41;&#66;&amp&lt;x&gt;&unknown; &ampersand')).toBe('AB&<x>&unknown; &ersand');
    expect(unescapeHtml('&#0;')).toBe('\ufffd');
  });

  it('keeps a literal <|endoftext|> inside a prompt as text: special ids only at the ends', async () => {
    for (const [text, ids] of Object.entries(literalSpecial)) {
      const encoded = await encodeClip(text);
      expect(unpadded(encoded), text).toEqual(ids);
      expect(encoded.indexOf(EOT_ID), text).toBe(ids.length - 1);
    }
  });

  it('pads with EOT and truncates keeping EOT last', async () => {
    expect((await encodeClip('a photo of a cat')).slice(7)).toEqual(new Array(70).fill(EOT_ID));
    const long = await encodeClip('cat '.repeat(100));
    expect(long).toHaveLength(CLIP_CONTEXT);
    expect(long[0]).toBe(49406);
    expect(long[75]).toBe(2368);
    expect(long[76]).toBe(EOT_ID);
  });

  it('loads a tokenizer.json from a model folder', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sdloop-tok-'));
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(buildClipTokenizerJson()));
    const tokenizer = await loadClipTokenizer(dir);
    expect(unpadded(tokenizer.encodeClip('A  Photo of a CAT'))).toEqual(reference['a photo of a cat']);
  });

  it('says what it expected when the folder has no tokenizer.json', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sdloop-tok-'));
    await expect(loadClipTokenizer(dir)).rejects.toThrow(/expected a tokenizer.json/);
  });
});
