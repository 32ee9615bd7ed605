// The benchmark's arms: each rendered by the backend generate uses (the same prompts and
// seeds for every arm), and scored by one scorer, so every arm is read the same way.
import pLimit from 'p-limit';
import { storedPath } from '../../src/project.js';
import type { StageContext } from '../../src/stage.js';
import type { EmbeddingRow, LoraInfoRow, PromptRow, ScoreRow } from '../../schemas/tables.js';
import type { AlternativesLookup, Backend, GenerateParams } from '../generate/backend.js';
import type { AlternativesIndex } from '../resolve/alternatives.js';
import type { ScoreParams } from '../score/params.js';
import type { BenchmarkPlan, BenchmarkSettings } from './plan.js';
import type { Arm, Outcome } from './verdict.js';
import type { Reading } from './agreement.js';
import { pixelFeatures, type Embedded } from './diversity.js';

type Ctx = StageContext<{ generate: GenerateParams }>;

export interface ScoreItem {
  image_id: string;
  png: Buffer;
  prompt: PromptRow;
}

/** The part of the score stage's scorer (stages/score/scorer.ts) the benchmark uses. */
export interface BenchmarkScorer {
  /** embeddings feed the diversity guard; a scorer without them leaves it out */
  scoreImages(items: ScoreItem[], alternatives: AlternativesIndex): Promise<{ scores: ScoreRow[]; embeddings?: EmbeddingRow[] }>;
  close?(): Promise<void>;
}

export interface BenchmarkDeps {
  createBackend(params: GenerateParams, opts: { projectDir: string; warn?: (m: string) => void; alternatives?: AlternativesLookup }): Promise<Backend>;
  createScorer(params: ScoreParams, opts: { projectDir: string; dataDir: string }): Promise<BenchmarkScorer>;
}

/** generate's params with the candidate added: its tag in every prompt, its folder searched first. */
export function candidateParams(g: GenerateParams, lora: LoraInfoRow, loraDir: string, weight: number): GenerateParams {
  return { ...g, loras: [...g.loras, `${lora.name}:${weight}`], lora_dirs: [loraDir, ...g.lora_dirs] };
}

export interface Rendered {
  prompt: PromptRow;
  item: ScoreItem | null;
  /** the PNG in the store, relative to the project */
  path: string | null;
}

export async function renderArm(ctx: Ctx, backend: Backend, prompts: PromptRow[], tick: () => void): Promise<Rendered[]> {
  const limit = pLimit(Math.max(1, ctx.params.generate.concurrency * ctx.params.generate.endpoints.length));
  return Promise.all(
    prompts.map((prompt) =>
      limit(async () => {
        const result = await backend.render(prompt);
        tick();
        if (result.status !== 'ok' || !result.png) return { prompt, item: null, path: null };
        // Kept in the store so a report can show the benchmark's pictures and people can label them.
        const object = await ctx.store.put(result.png, 'png');
        return { prompt, item: { image_id: object.hash, png: result.png, prompt }, path: storedPath(ctx.projectDir, object.path) };
      }),
    ),
  );
}

export interface Scored {
  outcomes: Outcome[];
  readings: Reading[];
  embedded: Embedded[];
}

export type Features = BenchmarkSettings['diversity_features'];

export async function scoreArm(scorer: BenchmarkScorer, arm: Arm, rendered: Rendered[], features: Features, alternatives: AlternativesIndex): Promise<Scored> {
  const items = rendered.flatMap((r) => (r.item ? [r.item] : []));
  const { scores, embeddings = [] } = items.length ? await scorer.scoreImages(items, alternatives) : { scores: [] };
  const readings: Reading[] = [];
  const embedded: Embedded[] = [];
  const embeddingOf = new Map(embeddings.map((e) => [e.image_id, e.embedding]));
  const outcomes = await Promise.all(rendered.map(async ({ prompt, item }): Promise<Outcome> => {
    const [axis] = Object.keys(prompt.variations);
    const value = prompt.variations[axis!]!.key;
    const score = item && scores.find((s) => s.image_id === item.image_id && s.axis === axis);
    if (item && score) readings.push({ image_id: item.image_id, axis: axis!, top_value: score.top_value });
    const embedding = item && score?.matched && (features === 'pixels' ? await pixelFeatures(item.png) : embeddingOf.get(item.image_id));
    if (embedding) embedded.push({ arm, axis: axis!, value, embedding });
    return { arm, prompt_id: prompt.prompt_id, axis: axis!, value, success: score?.matched ?? false, p_target: score ? score.p_target : null };
  }));
  return { outcomes, readings, embedded };
}

/** Every arm scored by one scorer, arm by arm: the same pictures whichever model reads them. */
export async function scoreArms(scorer: BenchmarkScorer, arms: [Arm, Rendered[]][], features: Features, alternatives: AlternativesIndex): Promise<Scored[]> {
  const out: Scored[] = [];
  try {
    for (const [arm, rendered] of arms) out.push(await scoreArm(scorer, arm, rendered, features, alternatives));
  } finally {
    await scorer.close?.();
  }
  return out;
}

export const joined = (a: Scored, b: Scored): Scored => ({
  outcomes: [...a.outcomes, ...b.outcomes],
  readings: [...a.readings, ...b.readings],
  embedded: [...a.embedded, ...b.embedded],
});

export async function renderArms(ctx: Ctx, deps: BenchmarkDeps, arms: [Arm, GenerateParams][], plan: BenchmarkPlan): Promise<[Arm, Rendered[]][]> {
  const { prompts } = plan;
  let done = 0;
  const tick = () => ctx.progress(++done, prompts.length * arms.length);
  const opts = { projectDir: ctx.projectDir, warn: (m: string) => ctx.warn(m), alternatives: (id: string) => plan.alternatives.get(id) };
  const out: [Arm, Rendered[]][] = [];
  for (const [arm, generate] of arms) {
    const backend = await deps.createBackend(generate, opts);
    try {
      out.push([arm, await renderArm(ctx, backend, prompts, tick)]);
    } finally {
      await backend.close();
    }
  }
  return out;
}
