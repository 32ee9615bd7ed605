import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
