// One image's rows from what the tiers read: a reading per axis (blank when CLIP was not
// asked), its frame (pixel checks, aesthetic, mean p_target) and its embedding.
import type { EmbeddingRow, FrameRow, ReadingRow } from '../../schemas/tables.js';
import type { AxisScore } from './adherence.js';
import type { PixelChecks } from './quality.js';
import { frameFlags, type QualityThresholds } from './quality.js';

export interface Reading {
  score: AxisScore;
  method: string;
  model: string;
}

export interface Measured {
  items: { image_id: string; prompt_id: string; variations: Record<string, { key: string; keys: string[] }> }[];
  prepared: { checks: PixelChecks }[];
  embeddings: Float32Array[];
  blank: boolean[];
  readings: Map<string, Reading>[];
  /** one per image, when an aesthetic head is configured */
  aesthetics: number[] | null;
}

export interface RowContext {
  /** the primary model, which names the embeddings and blank readings */
  model: string;
  thresholds: QualityThresholds;
}

export function assembleRows(m: Measured, c: RowContext): { readings: ReadingRow[]; frames: FrameRow[]; embeddings: EmbeddingRow[] } {
  const out = { readings: [] as ReadingRow[], frames: [] as FrameRow[], embeddings: [] as EmbeddingRow[] };
  for (const [i, item] of m.items.entries()) {
    const ids = { image_id: item.image_id, prompt_id: item.prompt_id };
    const rows = Object.entries(item.variations).map(([axis, alt]): ReadingRow => {
      const r = m.readings[i].get(axis);
      return r
        ? { ...ids, axis, value: alt.key, p_target: r.score.p_target, margin: r.score.margin, rank: r.score.rank,
            top_value: alt.keys[r.score.top_index], method: r.method, model: r.model }
        : { ...ids, axis, value: alt.key, p_target: 0, margin: -1, rank: alt.keys.length, top_value: '', method: 'blank', model: c.model };
    });
    out.readings.push(...rows);
    const checks = m.prepared[i].checks;
    const flags = frameFlags(checks, c.thresholds);
    out.frames.push({
      ...ids,
      blank: m.blank[i],
      uniform: flags.uniform,
      black: flags.black,
      blur: checks.blur,
      phash: checks.phash,
      // Items are memoised one by one, so the row can only name the exact-hash group;
      // nearDuplicateGroups() groups within thresholds.duplicate_distance across rows.
      duplicate_group: checks.phash,
      aesthetic: m.aesthetics ? m.aesthetics[i] : null,
      match_score: m.blank[i] ? 0 : rows.length ? rows.reduce((s, r) => s + r.p_target, 0) / rows.length : 1,
    });
    out.embeddings.push({ image_id: item.image_id, model: c.model, embedding: Array.from(m.embeddings[i]) });
  }
  return out;
}
