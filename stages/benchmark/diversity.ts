// The diversity guard. A LoRA can raise adherence by drawing the same picture for every
// seed (mode collapse): each image matches, and the model got worse. Per value and arm,
// over the images that showed the value (so that wrong values do not count as variety),
// the mean pairwise cosine distance of their features and the share of images with a near
// duplicate; a candidate whose spread falls by more than the tolerance, relative to the
// baseline, is not promoted. The features are the scorer's image embeddings, or `pixels`
// (a small grey thumbnail of the whole frame) for a scoring model that does not look at
// the whole frame, such as the demo model, which reads only the centre code grid.
import type { z } from 'zod';
import type { benchmarkDiversityRow } from '../../schemas/tables.js';

export type DiversityRow = z.infer<typeof benchmarkDiversityRow>;

export interface Embedded {
  arm: DiversityRow['arm'];
  axis: string;
  value: string;
  /** L2-normalised, as the scorer writes them */
  embedding: number[];
}

const round6 = (x: number) => Math.round(x * 1e6) / 1e6;

const THUMB = 16;

/** The whole frame as a 16x16 grey thumbnail, centred and L2-normalised: a layout fingerprint. */
export async function pixelFeatures(png: Buffer): Promise<number[]> {
  const { default: sharp } = await import('sharp');
  const grey = await sharp(png).greyscale().resize(THUMB, THUMB, { fit: 'fill' }).raw().toBuffer();
  const values = [...grey.subarray(0, THUMB * THUMB)];
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const centred = values.map((v) => v - mean);
  const norm = Math.sqrt(centred.reduce((a, b) => a + b * b, 0));
  return norm === 0 ? centred : centred.map((v) => v / norm);
}

function cosineDistance(a: number[], b: number[]): number {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += a[i]! * b[i]!;
  return 1 - dot;
}

/** Mean pairwise distance and near-duplicate share of one group; null spread under two images. */
export function spread(embeddings: number[][], nearDuplicate: number): { mean_distance: number | null; near_duplicate_rate: number } {
  const n = embeddings.length;
  if (n < 2) return { mean_distance: null, near_duplicate_rate: 0 };
  let total = 0;
  const hasTwin = new Array<boolean>(n).fill(false);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const d = cosineDistance(embeddings[i]!, embeddings[j]!);
      total += d;
      if (d <= nearDuplicate) hasTwin[i] = hasTwin[j] = true;
    }
  }
  return { mean_distance: total / ((n * (n - 1)) / 2), near_duplicate_rate: hasTwin.filter(Boolean).length / n };
}

export function diversityRows(items: Embedded[], nearDuplicate: number): DiversityRow[] {
  const groups = new Map<string, Embedded[]>();
  for (const item of items) {
    const key = JSON.stringify([item.arm, item.axis, item.value]);
    groups.set(key, [...(groups.get(key) ?? []), item]);
  }
  return [...groups.keys()].sort().map((key) => {
    const group = groups.get(key)!;
    const { arm, axis, value } = group[0]!;
    const s = spread(group.map((g) => g.embedding), nearDuplicate);
    return { arm, axis, value, n: group.length, mean_distance: s.mean_distance === null ? null : round6(s.mean_distance), near_duplicate_rate: round6(s.near_duplicate_rate) };
  });
}

export interface DiversityFall {
  axis: string;
  value: string;
  before: number;
  after: number;
  /** (before - after) / before */
  fall: number;
}

/** The value whose spread fell most, relative to the baseline; undefined when none can be compared. */
export function worstDiversityFall(rows: DiversityRow[]): DiversityFall | undefined {
  const falls: DiversityFall[] = [];
  for (const b of rows.filter((r) => r.arm === 'baseline')) {
    const c = rows.find((r) => r.arm === 'candidate' && r.axis === b.axis && r.value === b.value);
    if (b.mean_distance === null || !b.mean_distance || c?.mean_distance == null) continue;
    falls.push({ axis: b.axis, value: b.value, before: b.mean_distance, after: c.mean_distance, fall: (b.mean_distance - c.mean_distance) / b.mean_distance });
  }
  return falls.sort((x, y) => y.fall - x.fall)[0];
}
