// Reading back a kohya dataset folder (img/<repeats>_<concept>/<name>.png + <name>.txt),
// for what sd-scripts would record about it: image counts, repeats and tag frequency.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

const imageExtensions = new Set(['.png', '.jpg', '.jpeg', '.webp', '.bmp']);

export interface DatasetSubset {
  /** the folder name, as sd-scripts keys ss_tag_frequency and ss_dataset_dirs */
  dir: string;
  repeats: number;
  images: string[];
  /** caption tag -> how many captions carry it */
  tags: Record<string, number>;
}

function extensionOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot < 0 ? '' : name.slice(dot).toLowerCase();
}

/** Subsets in name order; a folder not named `<repeats>_<concept>` is not a subset (as in sd-scripts). */
export async function readDatasetFolder(datasetDir: string): Promise<DatasetSubset[]> {
  const imgDir = join(datasetDir, 'img');
  const entries = await readdir(imgDir, { withFileTypes: true }).catch(() => {
    throw new Error(`${datasetDir}: expected a kohya dataset folder with img/<repeats>_<concept>/ subfolders`);
  });
  const subsets: DatasetSubset[] = [];
  for (const entry of entries.filter((e) => e.isDirectory()).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const match = /^(\d+)_(.+)$/.exec(entry.name);
    if (!match) continue;
    const files = (await readdir(join(imgDir, entry.name))).sort();
    const images = files.filter((f) => imageExtensions.has(extensionOf(f)));
    const tags: Record<string, number> = {};
    for (const image of images) {
      const caption = `${image.slice(0, image.length - extensionOf(image).length)}.txt`;
      if (!files.includes(caption)) continue;
      for (const tag of (await readFile(join(imgDir, entry.name, caption), 'utf8')).split(',')) {
        const trimmed = tag.trim();
        if (trimmed) tags[trimmed] = (tags[trimmed] ?? 0) + 1;
      }
    }
    subsets.push({ dir: entry.name, repeats: Number(match[1]), images, tags });
  }
  return subsets;
}

export function countImages(subsets: DatasetSubset[]): number {
  return subsets.reduce((n, s) => n + s.images.length, 0);
}

/** What sd-scripts calls ss_num_train_images: images times their repeats. */
export function countTrainImages(subsets: DatasetSubset[]): number {
  return subsets.reduce((n, s) => n + s.images.length * s.repeats, 0);
}

/** Steps and epochs as sd-scripts derives them (batch size 1 unless given). */
export function trainingLength(
  subsets: DatasetSubset[],
  o: { maxTrainEpochs: number | null; maxTrainSteps: number | null; batchSize?: number },
): { steps: number; epochs: number } {
  const perEpoch = Math.max(1, Math.ceil(countTrainImages(subsets) / (o.batchSize ?? 1)));
  if (o.maxTrainSteps !== null) return { steps: o.maxTrainSteps, epochs: Math.ceil(o.maxTrainSteps / perEpoch) };
  const epochs = o.maxTrainEpochs ?? 10;
  return { steps: perEpoch * epochs, epochs };
}
