// benchmark: does the new LoRA help? The fixed benchmark prompts (plan.ts)
// are rendered twice with the same seeds, by the same backend generate uses: the baseline
// with the currently promoted LoRAs (generate.loras) and the last merged checkpoint, and the candidate with the new LoRA
// added, once per (saved epoch, weight) point (points.ts). The same scorer scores every
// arm; verdict.ts turns each point's outcomes into rates, intervals and a promote/reject
// verdict, and the best point that passes is the one recorded for promotion.
import { resolve } from 'node:path';
import { storedPath } from '../../src/project.js';
import { z } from 'zod';
import pLimit from 'p-limit';
import { InputError, StageFailure } from '../../src/errors.js';
import { defineStage, type PathInput, type StageContext, type TableInput } from '../../src/stage.js';
import { benchmarkAgreementRow, benchmarkDiversityRow, benchmarkImageRow, benchmarkPointRow, benchmarkRow, benchmarkSummaryRow, type EmbeddingRow, type LoraInfoRow, type PromptRow, type ScoreRow } from '../../schemas/tables.js';
import { createBackend, generateParams, type AlternativesLookup, type Backend, type GenerateParams } from '../generate/backend.js';
import { mergedResource, promotedResource, readMerged, readPromoted, withMerged, withPromoted } from '../generate/promoted.js';
import { benchmarkPrompts, benchmarkSettings, type BenchmarkPlan, type BenchmarkSettings } from './plan.js';
import type { AlternativesIndex } from '../resolve/alternatives.js';
import { scoreParams, type ScoreParams } from '../score/params.js';
import { decide, tally, withJudge, type Arm, type Outcome, type PointVerdict } from './verdict.js';
import { choosePoint, pointPrefix, pointRows, pointsOf, type Point } from './points.js';
import { agreementRows, type Reading } from './agreement.js';
import { confirmDeployed } from './deploy-check.js';
import { diversityRows, pixelFeatures, worstDiversityFall, type Embedded } from './diversity.js';
import { humanLabelsOf, labelsFingerprint, readLabelRows } from '../classify/human-labels.js';

const params = z.object({
  benchmark: benchmarkSettings.prefault({}),
  generate: generateParams.prefault({}),
  score: scoreParams.prefault({}),
});
type Params = z.infer<typeof params>;

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

/** Loaded on first use: the engine imports every stage module on every `pipeline status`. */
async function loadScorer(params: ScoreParams, opts: { projectDir: string; dataDir: string }): Promise<BenchmarkScorer> {
  const { createScorer } = await import('../score/scorer.js');
  return createScorer(params, opts);
}

/** generate's params with the candidate added: its tag in every prompt, its folder searched first. */
export function candidateParams(g: GenerateParams, lora: LoraInfoRow, loraDir: string, weight: number): GenerateParams {
  return { ...g, loras: [...g.loras, `${lora.name}:${weight}`], lora_dirs: [loraDir, ...g.lora_dirs] };
}

interface Rendered {
  prompt: PromptRow;
  item: ScoreItem | null;
  /** the PNG in the store, relative to the project */
  path: string | null;
}

async function renderArm(ctx: StageContext<Params>, backend: Backend, prompts: PromptRow[], tick: () => void): Promise<Rendered[]> {
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

interface Scored {
  outcomes: Outcome[];
  readings: Reading[];
  embedded: Embedded[];
}

type Features = BenchmarkSettings['diversity_features'];

async function scoreArm(scorer: BenchmarkScorer, arm: Arm, rendered: Rendered[], features: Features, alternatives: AlternativesIndex): Promise<Scored> {
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
async function scoreArms(scorer: BenchmarkScorer, arms: [Arm, Rendered[]][], features: Features, alternatives: AlternativesIndex): Promise<Scored[]> {
  const out: Scored[] = [];
  try {
    for (const [arm, rendered] of arms) out.push(await scoreArm(scorer, arm, rendered, features, alternatives));
  } finally {
    await scorer.close?.();
  }
  return out;
}

const joined = (a: Scored, b: Scored): Scored => ({
  outcomes: [...a.outcomes, ...b.outcomes],
  readings: [...a.readings, ...b.readings],
  embedded: [...a.embedded, ...b.embedded],
});

async function renderArms(ctx: StageContext<Params>, deps: BenchmarkDeps, arms: [Arm, GenerateParams][], plan: BenchmarkPlan): Promise<[Arm, Rendered[]][]> {
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

/** The files train saved (the final LoRA and any earlier epochs) and their folder. */
async function candidatesOf(ctx: StageContext<Params>): Promise<{ files: LoraInfoRow[]; dir: string }> {
  const info = ctx.inputs.lora_info as TableInput | undefined;
  const lora = ctx.inputs.lora as PathInput | undefined;
  if (info?.kind !== 'table' || lora?.kind !== 'path') {
    throw new StageFailure(ctx.stage, 'expected inputs `lora` (train.lora, a path) and `lora_info` (train.lora_info, a table)');
  }
  const files = await info.rows<LoraInfoRow>();
  if (files.length === 0) throw new StageFailure(ctx.stage, 'expected at least one row in lora_info, found none');
  return { files, dir: lora.path };
}

/** Every picture rendered, baseline first, then each point's, with what it was asked for. */
function imageRows(rendered: [Arm, Rendered[]][], points: Point[]): z.infer<typeof benchmarkImageRow>[] {
  return rendered.flatMap(([arm, images], i) => images.flatMap(({ prompt, item, path }) => {
    if (!item || !path) return [];
    const [axis] = Object.keys(prompt.variations);
    const point = i === 0 ? null : points[i - 1]!;
    return [{ image_id: item.image_id, arm, lora: point?.lora.name ?? null, weight: point?.weight ?? null, prompt_id: prompt.prompt_id, seed: prompt.seed, axis: axis!, value: prompt.variations[axis!]!.key, path }];
  }));
}

interface Judged {
  verdict: PointVerdict;
  diversity: ReturnType<typeof diversityRows>;
  scored: Scored;
}

/** One point against the baseline: the paired test at alpha / points, tolerance, diversity. */
function judgePoint(s: BenchmarkSettings, point: Point, count: number, scored: Scored): Judged {
  const diversity = diversityRows(scored.embedded, s.near_duplicate_distance);
  const verdict = decide(scored.outcomes, {
    lora: point.lora.name, alpha: s.alpha / count, tolerance: s.tolerance,
    diversityFall: worstDiversityFall(diversity), diversityTolerance: s.diversity_tolerance, focus: s.focus,
  });
  return { verdict, diversity, scored };
}

const prefixed = (prefix: string, r: Record<string, string>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [prefix + k, v]));

function checkSettings(s: Params['benchmark'], score: ScoreParams): void {
  const plans: [string, BenchmarkSettings['axes']][] = [['axes', s.axes], ...Object.entries(s.themes).flatMap(([t, own]) => (own.axes ? [[`themes.${t}.axes`, own.axes] as [string, BenchmarkSettings['axes']]] : []))];
  for (const [field, axes] of plans) {
    if (Object.keys(axes).length === 0 || Object.values(axes).some((v) => Object.keys(v).length < 2)) {
      throw new InputError('expected a fixed plan: {Axis: {key: text}} with at least two values per axis', { file: 'pipeline.yaml', field: `params.benchmark.${field}` });
    }
  }
  // A judge is only independent if it is not the model whose readings chose the training images.
  if (s.judge && s.judge.model === score.model) {
    throw new InputError(`expected a judge model other than score.model (${score.model}), the one selection used`, { file: 'pipeline.yaml', field: 'params.benchmark.judge.model' });
  }
}

export function makeBenchmarkStage(deps: BenchmarkDeps) {
  return defineStage<Params>({
    description: 'Render the fixed benchmark with and without the new LoRA, score both, promote or reject',
    // 3: every (saved epoch, weight) point, the chosen one in benchmark_summary
    version: '3',
    params,
    outputs: {
      benchmark: { kind: 'table', schema: benchmarkRow },
      benchmark_summary: { kind: 'table', schema: benchmarkSummaryRow },
      benchmark_points: { kind: 'table', schema: benchmarkPointRow },
      benchmark_images: { kind: 'table', schema: benchmarkImageRow },
      benchmark_agreement: { kind: 'table', schema: benchmarkAgreementRow },
      benchmark_diversity: { kind: 'table', schema: benchmarkDiversityRow },
    },
    resourceLabels: { model: 'the CLIP model (score.model)', promoted_loras: 'the promoted LoRAs', merged_checkpoint: 'the checkpoint the loop merged (loop.promote merge)', labels: 'the human labels (pipeline label, the review app)' },
    async resources(ctx) {
      const { scorerResources } = await import('../score/scorer.js');
      const opts = { projectDir: ctx.projectDir, dataDir: ctx.dataDir, fileHash: ctx.fileHash };
      const judge = ctx.params.benchmark.judge;
      return {
        ...(await scorerResources(ctx.params.score, opts)),
        ...promotedResource(await readPromoted(ctx.sql)),
        ...mergedResource(await readMerged(ctx.sql)),
        ...(judge ? prefixed('judge.', await scorerResources(judge, opts)) : {}),
        // New labels change the agreement table, nothing else.
        labels: await labelsFingerprint(ctx.dataDir, ctx.sql),
      };
    },
    // Before anything runs: an empty plan found only after training would waste the round.
    async check(p) {
      checkSettings(p.benchmark, p.score);
    },
    async run(ctx) {
      const s = ctx.params.benchmark;
      checkSettings(s, ctx.params.score);
      const { files, dir } = await candidatesOf(ctx);
      if (ctx.params.generate.backend === 'a1111') {
        for (const f of files) await confirmDeployed(ctx.stage, ctx.params.generate.endpoints, { ...f, path: resolve(ctx.projectDir, f.path) });
      }
      const points = pointsOf(files, s.weights ?? [s.weight]);
      // The baseline is what generate renders with: the promoted LoRAs included.
      const baseline = withMerged(withPromoted(ctx.params.generate, await readPromoted(ctx.sql)), await readMerged(ctx.sql));
      const plan = benchmarkPrompts(s);
      const rendered = await renderArms(ctx, deps, [
        ['baseline', baseline],
        ...points.map((p): [Arm, GenerateParams] => ['candidate', candidateParams(baseline, p.lora, dir, p.weight)]),
      ], plan);
      const scorerOpts = { projectDir: ctx.projectDir, dataDir: ctx.dataDir };
      const [base, ...arms] = await scoreArms(await deps.createScorer(ctx.params.score, scorerOpts), rendered, s.diversity_features, plan.alternatives);
      const judged = arms.map((arm, i) => judgePoint(s, points[i]!, points.length, joined(base!, arm)));
      const chosen = choosePoint(points, judged.map((j) => j.verdict));
      const { verdict, diversity, scored } = judged[chosen]!;
      let summary = verdict;
      // The journal alone: labels an older version kept in the state move there when classify runs.
      const labels = humanLabelsOf(await readLabelRows(ctx.dataDir));
      const agreement = agreementRows('score', scored.readings, labels);
      if (s.judge) {
        // The judge reads the chosen point only: it vetoes a pick, it does not make one.
        const [jb, jc] = await scoreArms(await deps.createScorer(s.judge, scorerOpts), [rendered[0]!, rendered[chosen + 1]!], s.diversity_features, plan.alternatives);
        const byJudge = joined(jb!, jc!);
        summary = withJudge(summary, judgePoint(s, points[chosen]!, points.length, byJudge).verdict, s.judge.model);
        agreement.push(...agreementRows('judge', byJudge.readings, labels));
      }
      const point = points[chosen]!;
      const row = { ...summary, reason: pointPrefix(points, chosen, s.alpha) + summary.reason, epoch: point.lora.epoch, weight: point.weight, points: points.length };
      ctx.log(`${row.lora}: ${row.verdict}: ${row.reason}`);
      return {
        benchmark: tally(scored.outcomes),
        benchmark_summary: [row],
        benchmark_points: pointRows(points, judged.map((j) => j.verdict), chosen),
        benchmark_images: imageRows(rendered, points),
        benchmark_agreement: agreement,
        benchmark_diversity: diversity,
      };
    },
  });
}

export default makeBenchmarkStage({ createBackend, createScorer: loadScorer });
