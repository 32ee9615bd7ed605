// Small real inputs for the train tests: a kohya dataset folder as the dataset stage writes it.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const standinDir = resolve(import.meta.dirname, '../standins');

export function freshDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `sdloop-${prefix}-`));
}

/**
 * img/<repeats>_<concept>/<n>.png + .txt captions and a dataset.toml naming them; a null
 * resolution is left out of the TOML, as the dataset stage does by default.
 */
export function makeDataset(root: string, concepts: Record<string, string[]>, repeats = 2, resolution: number | null = 512): string {
  const dir = join(root, 'dataset');
  const subsets: string[] = [];
  for (const [concept, captions] of Object.entries(concepts)) {
    const imageDir = join(dir, 'img', `${repeats}_${concept}`);
    mkdirSync(imageDir, { recursive: true });
    captions.forEach((caption, i) => {
      writeFileSync(join(imageDir, `${i}.png`), Buffer.from([0x89, 0x50, 0x4e, 0x47]));
      writeFileSync(join(imageDir, `${i}.txt`), caption);
    });
    subsets.push(`[[datasets.subsets]]\nimage_dir = ${JSON.stringify(imageDir)}\nnum_repeats = ${repeats}\nclass_tokens = ${JSON.stringify(concept)}\n`);
  }
  const toml = `[general]\nshuffle_caption = false\ncaption_extension = ".txt"\nkeep_tokens = 1\n\n[[datasets]]\n${resolution === null ? '' : `resolution = ${resolution}\n`}batch_size = 1\n\n${subsets.join('\n')}`;
  writeFileSync(join(dir, 'dataset.toml'), toml);
  return dir;
}
