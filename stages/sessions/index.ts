// sessions: per session folder, of either origin, what was planned, what is there, what
// failed, how well it matched and a verdict. A cheap derivation from measured tables, so
// changing the threshold re-judges sessions without scoring anything again.
import { z } from 'zod';
import { defineStage, type InputArtifact } from '../../src/stage.js';
import { StageFailure } from '../../src/errors.js';
import {
  sessionRow, type CatalogImageRow, type ImportedSessionRow, type PromptRow, type QualityRow, type ScoreRow, type SessionRow,
} from '../../schemas/tables.js';

const params = z.object({
  score: z.object({
    thresholds: z.object({
      /** a session whose mean match is above this is `complete`, else `review` */
      session_complete: z.number().min(0).max(1).default(0.75),
    }).prefault({}),
  }).prefault({}),
});
type Params = z.infer<typeof params>;

async function rowsOf<T>(inputs: Record<string, InputArtifact>, name: string): Promise<T[]> {
  const input = inputs[name];
  if (!input) return [];
  if (input.kind !== 'table') throw new StageFailure('sessions', `input ${name} must be a table`);
  return input.rows<T>();
}

interface Tally {
  images: CatalogImageRow[];
  imported?: ImportedSessionRow;
}

export interface SessionTables {
  images: CatalogImageRow[];
  prompts: PromptRow[];
  quality: QualityRow[];
  scores: ScoreRow[];
  imported_sessions: ImportedSessionRow[];
}

export function judgeSessions({ images, prompts, quality, scores, imported_sessions: imported }: SessionTables, threshold: number): SessionRow[] {
  // A generated folder is named after its prompts' session (plus theme and style): the name the prompts give.
  const sessionOf = new Map(prompts.map((p) => [p.prompt_id, p.session]));
  const qualityOf = new Map(quality.map((q) => [q.image_id, q]));
  // Images with no measured axis have match_score 1 by construction: they must not lift a session's mean.
  const measured = new Set(scores.map((s) => s.image_id));
  const tallies = new Map<string, Tally>();
  for (const image of images) {
    const t = tallies.get(image.session_dir) ?? { images: [] };
    t.images.push(image);
    tallies.set(image.session_dir, t);
  }
  for (const s of imported) {
    const t = tallies.get(s.session_dir) ?? { images: [] };
    t.imported = s;
    tallies.set(s.session_dir, t);
  }
  const rows: SessionRow[] = [];
  for (const [dir, t] of [...tallies].sort(([a], [b]) => a.localeCompare(b))) {
    const present = t.images.filter((i) => i.status !== 'failed');
    const matches = present.filter((i) => measured.has(i.image_id) && qualityOf.has(i.image_id)).map((i) => qualityOf.get(i.image_id)!.match_score);
    const meanMatch = matches.length ? matches.reduce((a, b) => a + b, 0) / matches.length : null;
    const annotated = present.filter((i) => i.annotated).length;
    rows.push({
      session_dir: dir,
      session: t.imported?.session ?? sessionOf.get(t.images[0]?.prompt_id ?? '') ?? dir,
      origin: t.imported ? 'imported' : 'generated',
      format: t.imported?.format ?? 'sdloop',
      planned: t.imported ? t.imported.planned : t.images.length,
      present: present.length,
      failed: t.imported ? t.imported.failed_indexes.length : t.images.length - present.length,
      blank: present.filter((i) => i.status === 'blank' || qualityOf.get(i.image_id)?.blank).length,
      scored: matches.length,
      mean_match: meanMatch,
      flagged: present.filter((i) => i.annotated || qualityOf.get(i.image_id)?.flagged).length,
      annotated,
      verdict: meanMatch !== null && meanMatch > threshold ? 'complete' : 'review',
    });
  }
  return rows;
}

export default defineStage<Params>({
  description: 'per session folder: planned, present, failed, blank, mean match, flagged and a verdict',
  version: '1',
  params,
  outputs: { sessions: { kind: 'table', schema: sessionRow, key: ['session_dir'] } },
  async run(ctx) {
    const [images, prompts, quality, scores, imported] = await Promise.all([
      rowsOf<CatalogImageRow>(ctx.inputs, 'images'),
      rowsOf<PromptRow>(ctx.inputs, 'prompts'),
      rowsOf<QualityRow>(ctx.inputs, 'quality'),
      rowsOf<ScoreRow>(ctx.inputs, 'scores'),
      rowsOf<ImportedSessionRow>(ctx.inputs, 'imported_sessions'),
    ]);
    const tables = { images, prompts, quality, scores, imported_sessions: imported };
    const rows = judgeSessions(tables, ctx.params.score.thresholds.session_complete);
    ctx.log(`${rows.length} sessions, ${rows.filter((r) => r.verdict === 'review').length} to review`);
    return { sessions: rows };
  },
});
