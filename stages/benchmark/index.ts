// benchmark: does the new LoRA help? The fixed benchmark prompts (plan.ts)
// are rendered twice with the same seeds, by the same backend generate uses: the baseline
// with the currently promoted LoRAs (generate.loras) and the last merged checkpoint, and the candidate with the new LoRA
// added, once per (saved epoch, weight) point (points.ts). The same scorer scores every
// arm; verdict.ts turns each point's outcomes into rates, intervals and a promote/reject
// verdict, and the best point that passes is the one recorded for promotion. With
// benchmark.stack_weights, the whole stack's weights are then tuned together from that
// point (stack.ts), and the best stack point that passes is the one recorded.
import { resolve } from 'node:path';
import { z } from 'zod';
import { InputError, StageFailure } from '../../src/errors.js';
import { defineStage, type PathInput, type StageContext, type TableInput } from '../../src/stage.js';
import { benchmarkAgreementRow, benchmarkDiversityRow, benchmarkImageRow, benchmarkPointRow, benchmarkRow, benchmarkStackRow, benchmarkSummaryRow, type LoraInfoRow, type MergedCheckpointRow, type PromotedLoraRow } from '../../schemas/tables.js';
import { createBackend, generateParams, type GenerateParams } from '../generate/backend.js';
import { mergedResource, promotedResource, readMerged, readPromoted, withMerged, withPromoted } from '../generate/promoted.js';
import { benchmarkPrompts, benchmarkSettings, type BenchmarkPlan, type BenchmarkSettings } from './plan.js';
import { scoreParams, type ScoreParams } from '../score/params.js';
import { decide, tally, withJudge, type Arm, type PointVerdict } from './verdict.js';
import { candidateParams, joined, renderArms, scoreArm, scoreArms, type BenchmarkDeps, type BenchmarkScorer, type Rendered, type Scored } from './arms.js';
import { choosePoint, pointPrefix, pointRows, pointsOf, type Point } from './points.js';
import { agreementRows } from './agreement.js';
import { confirmDeployed } from './deploy-check.js';
import { diversityRows, worstDiversityFall } from './diversity.js';
import { humanLabelsOf, labelsFingerprint, readLabelRows } from '../classify/human-labels.js';
import { stackedOf, stackPrefix, stackRows, stackTests, tuneStack, type StackMember, type StackPoint } from './stack.js';

const params = z.object({
  benchmark: benchmarkSettings.prefault({}),
  generate: generateParams.prefault({}),
  score: scoreParams.prefault({}),
});
type Params = z.infer<typeof params>;

export type { BenchmarkDeps, BenchmarkScorer, ScoreItem } from './arms.js';
export { candidateParams } from './arms.js';

/** Loaded on first use: the engine imports every stage module on every `pipeline status`. */
async function loadScorer(params: ScoreParams, opts: { projectDir: string; dataDir: string }): Promise<BenchmarkScorer> {
  const { createScorer } = await import('../score/scorer.js');
  return createScorer(params, opts);
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

interface Tuning {
  tried: StackPoint[];
  chosen: number;
  /** the chosen stack point's judgement and pictures, when it is not the starting point */
  best: { judged: Judged; rendered: Rendered[] } | null;
}

/** benchmark.stack_weights: the promoted LoRAs' and the candidate's weights tuned together from the chosen point (stack.ts). */
async function retune(ctx: StageContext<Params>, deps: BenchmarkDeps, plan: BenchmarkPlan, state: { promoted: PromotedLoraRow[]; merged: MergedCheckpointRow | null; dir: string; count: number }, base: Scored, point: Point, start: Judged): Promise<Tuning> {
  const s = ctx.params.benchmark;
  const stacked = stackedOf(state.promoted, s.theme);
  const first: StackPoint = { stack: [...stacked.map((p) => ({ name: p.name, weight: p.weight })), { name: point.lora.name, weight: point.weight }], verdict: start.verdict };
  if (!s.stack_weights || stacked.length === 0) return { tried: [first], chosen: 0, best: null };
  const seen: { judged: Judged; rendered: Rendered[] }[] = [];
  const scorer = await deps.createScorer(ctx.params.score, { projectDir: ctx.projectDir, dataDir: ctx.dataDir });
  try {
    const evaluate = async (stack: StackMember[]) => {
      const weights = new Map(stack.map((m) => [m.name, m.weight]));
      const promoted = state.promoted.map((p) => ({ ...p, weight: weights.get(p.name) ?? p.weight }));
      const g = candidateParams(withMerged(withPromoted(ctx.params.generate, promoted), state.merged), point.lora, state.dir, weights.get(point.lora.name)!);
      const [[, rendered]] = await renderArms(ctx, deps, [['candidate', g]], plan) as [[Arm, Rendered[]]];
      const judged = judgePoint(s, point, state.count, joined(base, await scoreArm(scorer, 'candidate', rendered, s.diversity_features, plan.alternatives)));
      seen.push({ judged, rendered });
      return judged.verdict;
    };
    const { tried, chosen } = await tuneStack(first, s.stack_weights, s.stack_points, evaluate);
    return { tried, chosen, best: chosen === 0 ? null : seen[chosen - 1]! };
  } finally {
    await scorer.close?.();
  }
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
    // 4: the stack's weights re-tuned together (benchmark_stack, benchmark_summary.stack)
    version: '4',
    params,
    outputs: {
      benchmark: { kind: 'table', schema: benchmarkRow },
      benchmark_summary: { kind: 'table', schema: benchmarkSummaryRow },
      benchmark_points: { kind: 'table', schema: benchmarkPointRow },
      benchmark_images: { kind: 'table', schema: benchmarkImageRow },
      benchmark_agreement: { kind: 'table', schema: benchmarkAgreementRow },
      benchmark_diversity: { kind: 'table', schema: benchmarkDiversityRow },
      benchmark_stack: { kind: 'table', schema: benchmarkStackRow },
    },
    resourceLabels: { model: 'the CLIP model (score.model)', promoted_loras: 'the promoted LoRAs', merged_checkpoint: 'the checkpoint the loop merged (loop.promote merge)', labels: 'the human labels (pipeline label, the review app)' },
    async resources(ctx) {
      const { scorerResources } = await import('../score/models.js');
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
      const promoted = await readPromoted(ctx.sql);
      const state = { promoted, merged: await readMerged(ctx.sql), dir, count: points.length + stackTests(s, stackedOf(promoted, s.theme).length) };
      // The baseline is what generate renders with: the promoted LoRAs included.
      const baseline = withMerged(withPromoted(ctx.params.generate, state.promoted), state.merged);
      const plan = benchmarkPrompts(s);
      const rendered = await renderArms(ctx, deps, [
        ['baseline', baseline],
        ...points.map((p): [Arm, GenerateParams] => ['candidate', candidateParams(baseline, p.lora, dir, p.weight)]),
      ], plan);
      const scorerOpts = { projectDir: ctx.projectDir, dataDir: ctx.dataDir };
      const [base, ...arms] = await scoreArms(await deps.createScorer(ctx.params.score, scorerOpts), rendered, s.diversity_features, plan.alternatives);
      const judged = arms.map((arm, i) => judgePoint(s, points[i]!, state.count, joined(base!, arm)));
      const chosen = choosePoint(points, judged.map((j) => j.verdict));
      const point = points[chosen]!;
      const tuning = await retune(ctx, deps, plan, state, base!, point, judged[chosen]!);
      const { verdict, diversity, scored } = tuning.best?.judged ?? judged[chosen]!;
      const stack = tuning.tried[tuning.chosen]!.stack;
      let summary = verdict;
      // The journal alone: labels an older version kept in the state move there when classify runs.
      const labels = humanLabelsOf(await readLabelRows(ctx.dataDir));
      const agreement = agreementRows('score', scored.readings, labels);
      if (s.judge) {
        // The judge reads the chosen point only: it vetoes a pick, it does not make one.
        const picked: [Arm, Rendered[]] = tuning.best ? ['candidate', tuning.best.rendered] : rendered[chosen + 1]!;
        const [jb, jc] = await scoreArms(await deps.createScorer(s.judge, scorerOpts), [rendered[0]!, picked], s.diversity_features, plan.alternatives);
        const byJudge = joined(jb!, jc!);
        summary = withJudge(summary, judgePoint(s, point, state.count, byJudge).verdict, s.judge.model);
        agreement.push(...agreementRows('judge', byJudge.readings, labels));
      }
      const tuned = tuning.tried.length > 1;
      const row = {
        ...summary, reason: pointPrefix(points, chosen, s.alpha, state.count) + stackPrefix(tuning.tried, tuning.chosen) + summary.reason,
        epoch: point.lora.epoch, weight: stack.at(-1)!.weight, points: points.length, stack: tuned ? stack.slice(0, -1).map((m) => `${m.name}:${m.weight}`) : [],
      };
      ctx.log(`${row.lora}: ${row.verdict}: ${row.reason}`);
      return {
        benchmark: tally(scored.outcomes),
        benchmark_summary: [row],
        benchmark_points: pointRows(points, judged.map((j) => j.verdict), chosen),
        benchmark_images: imageRows(rendered, points),
        benchmark_agreement: agreement,
        benchmark_diversity: diversity,
        benchmark_stack: tuned ? stackRows(tuning.tried, tuning.chosen) : [],
      };
    },
  });
}

export default makeBenchmarkStage({ createBackend, createScorer: loadScorer });
