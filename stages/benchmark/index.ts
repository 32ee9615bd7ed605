// benchmark: does the new LoRA help? The fixed benchmark prompts (plan.ts)
// are rendered twice with the same seeds, by the same backend generate uses: the baseline
// with the currently promoted LoRAs (generate.loras) and the candidate with the new LoRA
// added at benchmark.weight. The same scorer scores both; verdict.ts
// turns the outcomes into rates, intervals and a promote/reject verdict.
import { resolve } from 'node:path';
import { z } from 'zod';
import pLimit from 'p-limit';
import { InputError, StageFailure } from '../../src/errors.js';
import { defineStage, type PathInput, type StageContext, type TableInput } from '../../src/stage.js';
import { benchmarkAgreementRow, benchmarkDiversityRow, benchmarkRow, benchmarkSummaryRow, type EmbeddingRow, type LoraInfoRow, type PromptRow, type ScoreRow } from '../../schemas/tables.js';
import { createBackend, generateParams, type AlternativesLookup, type Backend, type GenerateParams } from '../generate/backend.js';
import { promotedResource, readPromoted, withPromoted } from '../generate/promoted.js';
import { benchmarkPrompts, benchmarkSettings, type BenchmarkPlan, type BenchmarkSettings } from './plan.js';
import type { AlternativesIndex } from '../resolve/alternatives.js';
import { scoreParams, type ScoreParams } from '../score/params.js';
import { decide, tally, withJudge, type Arm, type Outcome } from './verdict.js';
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
}

async function renderArm(ctx: StageContext<Params>, backend: Backend, prompts: PromptRow[], tick: () => void): Promise<Rendered[]> {
  const limit = pLimit(Math.max(1, ctx.params.generate.concurrency * ctx.params.generate.endpoints.length));
  return Promise.all(
    prompts.map((prompt) =>
      limit(async () => {
        const result = await backend.render(prompt);
        tick();
        if (result.status !== 'ok' || !result.png) return { prompt, item: null };
        // Kept in the store so a report can show the benchmark's pictures.
        const object = await ctx.store.put(result.png, 'png');
        return { prompt, item: { image_id: object.hash, png: result.png, prompt } };
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

/** Both arms' scores by one scorer: the same pictures whichever model reads them. */
async function scoreArms(scorer: BenchmarkScorer, arms: [Arm, Rendered[]][], features: Features, alternatives: AlternativesIndex): Promise<Scored> {
  const out: Scored = { outcomes: [], readings: [], embedded: [] };
  try {
    for (const [arm, rendered] of arms) {
      const scored = await scoreArm(scorer, arm, rendered, features, alternatives);
      out.outcomes.push(...scored.outcomes);
      out.readings.push(...scored.readings);
      out.embedded.push(...scored.embedded);
    }
  } finally {
    await scorer.close?.();
  }
  return out;
}

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

async function candidateOf(ctx: StageContext<Params>): Promise<{ lora: LoraInfoRow; dir: string }> {
  const info = ctx.inputs.lora_info as TableInput | undefined;
  const lora = ctx.inputs.lora as PathInput | undefined;
  if (info?.kind !== 'table' || lora?.kind !== 'path') {
    throw new StageFailure(ctx.stage, 'expected inputs `lora` (train.lora, a path) and `lora_info` (train.lora_info, a table)');
  }
  const rows = await info.rows<LoraInfoRow>();
  if (rows.length !== 1) throw new StageFailure(ctx.stage, `expected one row in lora_info, found ${rows.length}`);
  return { lora: rows[0]!, dir: lora.path };
}

const prefixed = (prefix: string, r: Record<string, string>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [prefix + k, v]));

function checkSettings(s: Params['benchmark'], score: ScoreParams): void {
  if (Object.keys(s.axes).length === 0 || Object.values(s.axes).some((v) => Object.keys(v).length < 2)) {
    throw new InputError('expected a fixed plan: {Axis: {key: text}} with at least two values per axis', { file: 'pipeline.yaml', field: 'params.benchmark.axes' });
  }
  // A judge is only independent if it is not the model whose readings chose the training images.
  if (s.judge && s.judge.model === score.model) {
    throw new InputError(`expected a judge model other than score.model (${score.model}), the one selection used`, { file: 'pipeline.yaml', field: 'params.benchmark.judge.model' });
  }
}

export function makeBenchmarkStage(deps: BenchmarkDeps) {
  return defineStage<Params>({
    description: 'Render the fixed benchmark with and without the new LoRA, score both, promote or reject',
    version: '2',
    params,
    outputs: {
      benchmark: { kind: 'table', schema: benchmarkRow },
      benchmark_summary: { kind: 'table', schema: benchmarkSummaryRow },
      benchmark_agreement: { kind: 'table', schema: benchmarkAgreementRow },
      benchmark_diversity: { kind: 'table', schema: benchmarkDiversityRow },
    },
    resourceLabels: { model: 'the CLIP model (score.model)', promoted_loras: 'the promoted LoRAs', labels: 'the human labels (pipeline label, the review app)' },
    async resources(ctx) {
      const { scorerResources } = await import('../score/scorer.js');
      const opts = { projectDir: ctx.projectDir, dataDir: ctx.dataDir, fileHash: ctx.fileHash };
      const judge = ctx.params.benchmark.judge;
      return {
        ...(await scorerResources(ctx.params.score, opts)),
        ...promotedResource(await readPromoted(ctx.sql)),
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
      const { lora, dir } = await candidateOf(ctx);
      if (ctx.params.generate.backend === 'a1111') await confirmDeployed(ctx.stage, ctx.params.generate.endpoints, { ...lora, path: resolve(ctx.projectDir, lora.path) });
      // The baseline is what generate renders with: the promoted LoRAs included.
      const baseline = withPromoted(ctx.params.generate, await readPromoted(ctx.sql));
      const plan = benchmarkPrompts(s);
      const rendered = await renderArms(ctx, deps, [
        ['baseline', baseline],
        ['candidate', candidateParams(baseline, lora, dir, s.weight)],
      ], plan);
      const scorerOpts = { projectDir: ctx.projectDir, dataDir: ctx.dataDir };
      const primary = await scoreArms(await deps.createScorer(ctx.params.score, scorerOpts), rendered, s.diversity_features, plan.alternatives);
      const diversity = diversityRows(primary.embedded, s.near_duplicate_distance);
      const rules = { lora: lora.name, alpha: s.alpha, tolerance: s.tolerance, diversityFall: worstDiversityFall(diversity), diversityTolerance: s.diversity_tolerance, focus: s.focus };
      let summary = decide(primary.outcomes, rules);
      // The journal alone: labels an older version kept in the state move there when classify runs.
      const labels = humanLabelsOf(await readLabelRows(ctx.dataDir));
      const agreement = agreementRows('score', primary.readings, labels);
      if (s.judge) {
        const judged = await scoreArms(await deps.createScorer(s.judge, scorerOpts), rendered, s.diversity_features, plan.alternatives);
        summary = withJudge(summary, decide(judged.outcomes, rules), s.judge.model);
        agreement.push(...agreementRows('judge', judged.readings, labels));
      }
      ctx.log(`${lora.name}: ${summary.verdict}: ${summary.reason}`);
      return { benchmark: tally(primary.outcomes), benchmark_summary: [summary], benchmark_agreement: agreement, benchmark_diversity: diversity };
    },
  });
}

export default makeBenchmarkStage({ createBackend, createScorer: loadScorer });
