// select.aesthetic_weight: taste in the ranking, adherence still the gate (min_score).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import select, { aestheticPercentiles, paramsSchema, selectRows } from '../../stages/select/index.js';
import { makeTestContext, runWholeStage } from '../../src/testing.js';
import type { ImageRow, PredictionRow, QualityRow, SelectionRow } from '../../schemas/tables.js';
import { makeWorld } from '../classify/world.js';

function prediction(image_id: string, p_combined: number): PredictionRow {
  return { image_id, axis: 'Hair', value: 'Bob', p_probe: p_combined, p_zero_shot: p_combined, p_combined, probe_value: 'Bob', label: 'Bob', label_source: 'zero_shot' };
}

/** Images a..d of one value: adherence falls from a to d, taste rises (d fails min_score). */
function world(aesthetic: (number | null)[] = [3, 7, 5, 10]) {
  const base = makeWorld(1);
  const predictions = [prediction('a', 0.9), prediction('b', 0.8), prediction('c', 0.7), prediction('d', 0.4)];
  const images: ImageRow[] = predictions.map((p) => ({ ...base.images[0], image_id: p.image_id }));
  const quality: QualityRow[] = predictions.map((p, i) => ({ ...base.quality[0], image_id: p.image_id, aesthetic: aesthetic[i] ?? null }));
  return { predictions, images, quality };
}

const params = (s: Record<string, unknown> = {}) => paramsSchema.parse({ select: s }).select;
const pick = (rows: SelectionRow[]) => rows.map((r) => [r.image_id, r.rank, Number(r.score.toFixed(6))]);

describe('select with taste', () => {
  it('ranks by adherence alone at the default weight 0, whatever the aesthetic scores say', () => {
    const { predictions, images, quality } = world();
    const withTaste = selectRows(predictions, images, quality, params({ top_k: 3 }));
    const without = selectRows(predictions, images, quality.map((q) => ({ ...q, aesthetic: null })), params({ top_k: 3 }));
    expect(pick(withTaste.selection)).toEqual([['a', 1, 0.9], ['b', 2, 0.8], ['c', 3, 0.7]]);
    expect(withTaste.selection).toEqual(without.selection);
  });

  it('mixes in the aesthetic percentile among the eligible: (1 - w) x p_combined + w x percentile', () => {
    const { predictions, images, quality } = world();
    const { selection, excluded } = selectRows(predictions, images, quality, params({ top_k: 3, aesthetic_weight: 0.5 }));
    // Eligible a (aesthetic 3), b (7), c (5): percentiles 0, 1, 0.5. d is below min_score, beauty or not.
    expect(pick(selection)).toEqual([['b', 1, 0.9], ['c', 2, 0.6], ['a', 3, 0.45]]);
    expect(excluded).toEqual({ 'below min_score': 1 });
    expect(selection[0]!.reason).toMatch(/; ranked by 0\.900 = 0\.5 x p_combined \+ 0\.5 x aesthetic percentile \(aesthetic 7\.000\)$/);
  });

  it('shares tied ranks, and puts an image without a score in the middle', () => {
    const { predictions, quality } = world([4, 4, 9, null]);
    const byId = new Map(quality.map((q) => [q.image_id, q]));
    expect(Object.fromEntries(aestheticPercentiles(predictions, byId))).toEqual({ a: 0.25, b: 0.25, c: 1, d: 0.5 });
  });

  it('refuses a weight when score wrote no aesthetic scores (no score.aesthetic_head), naming the field', async () => {
    const { predictions, images, quality } = world([null, null, null, null]);
    const ctx = makeTestContext({
      dir: mkdtempSync(join(tmpdir(), 'sdloop-select-taste-')),
      params: paramsSchema.parse({ select: { aesthetic_weight: 0.3 } }),
      inputs: { predictions, images, quality, scores: [] },
    });
    await expect(runWholeStage(select, ctx)).rejects.toThrow(/expected aesthetic scores in the quality table for select.aesthetic_weight: set score.aesthetic_head/);
  });
});
