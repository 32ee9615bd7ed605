// The cheap half of scoring: matched, blurred, verdict and flagged follow from stored
// measurements and score.thresholds, so changing a threshold re-derives them and never
// runs CLIP again. Two forms of the same rules, kept side by side: SQL for the score
// stage (DuckDB over every measured row, milliseconds at 40,000 images) and JS for the
// scorer's direct callers (benchmark, tests). A test holds them equal.
import type { FrameRow, QualityRow, ReadingRow, ScoreRow } from '../../schemas/tables.js';
import type { ScoreParams } from './params.js';

type Thresholds = Pick<ScoreParams['thresholds'], 'matched' | 'success' | 'partial' | 'flagged' | 'blur'>;

/** A blank frame was never read: its placeholder readings never match. */
export const isMatched = (reading: ReadingRow, t: Thresholds) => reading.method !== 'blank' && reading.p_target >= t.matched;

export function verdictOf(frame: FrameRow, t: Thresholds): QualityRow['verdict'] {
  if (frame.blank) return 'blank';
  return frame.match_score > t.success ? 'success' : frame.match_score >= t.partial ? 'partial' : 'failed';
}

/** Final rows for one image: its frame and its readings, in axis order. */
export function deriveImage(frame: FrameRow, readings: ReadingRow[], t: Thresholds): { quality: QualityRow; scores: ScoreRow[] } {
  const scores = readings.map((r) => ({ ...r, matched: isMatched(r, t) }));
  const matchedShare = scores.length ? scores.filter((s) => s.matched).length / scores.length : 1;
  const quality = { ...frame, blurred: frame.blur < t.blur, verdict: verdictOf(frame, t), flagged: frame.blank || matchedShare < t.flagged };
  return { quality, scores };
}

/** A validated number as an SQL literal. */
const num = (value: number) => {
  if (!Number.isFinite(value)) throw new Error(`threshold ${value} is not a finite number`);
  return `CAST(${value} AS DOUBLE)`;
};

/** The score stage's derived outputs, over its measures `readings` and `frames`. */
export function deriveQueries(t: Thresholds): Record<'scores' | 'quality', string> {
  const matched = `(method <> 'blank' AND p_target >= ${num(t.matched)})`;
  return {
    scores: `SELECT *, ${matched} AS matched FROM readings`,
    quality: `
      SELECT f.*, f.blur < ${num(t.blur)} AS blurred,
        CASE WHEN f.blank THEN 'blank' WHEN f.match_score > ${num(t.success)} THEN 'success'
             WHEN f.match_score >= ${num(t.partial)} THEN 'partial' ELSE 'failed' END AS verdict,
        f.blank OR coalesce(a.matched::DOUBLE / a.n, 1) < ${num(t.flagged)} AS flagged
      FROM frames f
      LEFT JOIN (SELECT _item, count(*) AS n, count(*) FILTER (WHERE ${matched}) AS matched FROM readings GROUP BY _item) a
        ON a._item = f._item`,
  };
}
