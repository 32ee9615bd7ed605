// `pipeline loop`: the self-improvement loop. A round runs the whole DAG with every
// promoted LoRA in the generator's prompts; train makes a candidate from the images that
// came out best, benchmark compares it against the promoted set on fixed seeds, and the
// candidate is promoted (copied to data/models/lora, used by every later round) only when
// it wins. Each `ctx.run` holds the project lock, so rounds never overlap a `pipeline run`;
// between rounds, and while a schedule waits, the loop holds neither lock nor database.
// A per-theme loop (loop-themes.ts) runs one such round per theme.
import { copyFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { defineCommand, examples, integerAtLeast, type CommandContext } from '../src/command.js';
import { InputError } from '../src/errors.js';
import { produceAtomic } from '../src/atomic.js';
import { storedPath } from '../src/project.js';
import type { LoraInfoRow } from '../schemas/tables.js';
import type { BenchmarkSummaryRow } from '../stages/benchmark/verdict.js';
import { chooseTarget, targetedOverrides, type Target } from './loop-targeted.js';
import { checkPerTheme, roundThemes, themeOverrides } from './loop-themes.js';
import { loopSettings } from './loop-settings.js';
import { deployMerged, mergeSetup, mergeWinner } from './loop-merge.js';
import { writeJsonEnvelope } from '../src/json-output.js';
import { ensureLoopTables, finishRound, openRound, promotedLoras, type LoopRound, type PromotedLora } from './loop-state.js';
import { describeScheduledTime } from './schedule-time.js';
import { parseLoraSpec } from '../adapters/a1111.js';

export interface LoopOptions {
  rounds: number;
  untilNoGain: boolean;
  targeted: boolean;
  /** a round per theme (--per-theme, or loop.per_theme) */
  perTheme?: boolean;
  now?: () => Date;
}

/**
 * What a round sets beyond pipeline.yaml: nothing for a plain round (generate reads the
 * promoted LoRAs from the state itself, as a plain `pipeline run` does), the focused
 * batch and its judging for a targeted one.
 */
export function roundOverrides(ctx: CommandContext, target: Target | null, theme: string | null = null): Record<string, unknown> {
  if (target) return targetedOverrides(ctx, target, loopSettings.parse(ctx.params.loop ?? {}));
  return theme === null ? {} : themeOverrides(ctx, theme);
}

const targetText = (t: Target) => `${t.axis}=${t.value}`;

function parseTarget(text: string | null): Target | null {
  if (!text) return null;
  const cut = text.indexOf('=');
  return { axis: text.slice(0, cut), value: text.slice(cut + 1), rate: Number.NaN, upper: Number.NaN };
}

/** The promoted LoRAs whose weight the benchmark's chosen stack point changed, at their new weight. */
function retunedWeights(promoted: PromotedLora[], stack: string[]): PromotedLora[] {
  const weights = new Map(stack.map(parseLoraSpec).map((l) => [l.name, l.weight]));
  return promoted.flatMap((p) => {
    const weight = weights.get(p.name);
    return weight !== undefined && weight !== p.weight ? [{ ...p, weight }] : [];
  });
}

/** The file and weight the benchmark chose (an earlier epoch's file, maybe) join the promoted set. */
async function promote(ctx: CommandContext, info: LoraInfoRow, weight: number, round: LoopRound, when: Date): Promise<PromotedLora> {
  const path = join(ctx.dataDir, 'models', 'lora', `${info.name}.safetensors`);
  // lora_info stores the object's path relative to the project.
  await produceAtomic(path, (tmp) => copyFile(resolve(ctx.projectDir, info.path), tmp));
  return { name: info.name, hash: info.hash, path: storedPath(ctx.projectDir, path), weight, round: round.round, promoted_at: when.toISOString(), theme: round.theme };
}

/** One round (for `theme` alone in a per-theme loop), from the DAG run to the recorded verdict. Returns the exit code. */
export async function runRound(ctx: CommandContext, options: LoopOptions, theme: string | null = null): Promise<{ exitCode: number; round: LoopRound }> {
  const now = options.now ?? (() => new Date());
  if (loopSettings.parse(ctx.params.loop ?? {}).promote === 'merge') mergeSetup(ctx);
  await ensureLoopTables(ctx.sql);
  const before = await promotedLoras(ctx.sql);
  const unfinished = (await ctx.sql<{ target: string | null; theme: string | null }>("SELECT target, theme FROM loop_rounds WHERE verdict = 'running'"))[0];
  const target = unfinished
    ? parseTarget(unfinished.target)
    : options.targeted ? await chooseTarget(ctx, loopSettings.parse(ctx.params.loop ?? {})) : null;
  const { round, resumed } = await openRound(ctx.sql, target && targetText(target), now, unfinished ? unfinished.theme : theme);
  const forTheme = round.theme === null ? '' : ` for theme ${round.theme}`;
  const what = forTheme + (target ? ` targeting ${targetText(target)}${Number.isNaN(target.rate) ? '' : ` (matched ${(target.rate * 100).toFixed(1)}%, Wilson upper bound ${(target.upper * 100).toFixed(1)}%)`}` : '');
  ctx.stdout(`round ${round.round}: ${resumed ? `resuming the round started ${round.started_at}` : 'starting'}${what}, with ${before.length} promoted LoRA(s)\n`);

  const mode = loopSettings.parse(ctx.params.loop ?? {}).promote;
  const overrides = roundOverrides(ctx, target, round.theme);
  const summary = await ctx.run({ set: overrides });
  if (summary.exitCode === 130) {
    ctx.stderr(`round ${round.round}: interrupted; \`pipeline loop\` resumes it\n`);
    return { exitCode: 130, round };
  }
  const names = before.map((p) => p.name);
  // What this round's prompts carry: every LoRA for all themes, and its own theme's.
  const stack = before.filter((p) => p.theme === null || p.theme === round.theme).map((p) => p.name);
  // Items that failed (a few images A1111 refused) leave the round to judge what was made; a stage that failed does not.
  const failed = summary.stages.filter((s) => s.status === 'failed').map((s) => s.name);
  if (failed.length > 0 || summary.exitCode === 2) {
    const done = { ...round, finished_at: now().toISOString(), verdict: 'failed' as const, reason: `pipeline run exited ${summary.exitCode}${failed.length ? `; failed: ${failed.join(', ')}` : ''}`, promoted: names };
    await finishRound(ctx.sql, done, null);
    ctx.stderr(`round ${round.round}: failed: ${done.reason}\n`);
    return { exitCode: summary.exitCode, round: done };
  }

  const [bench] = await ctx.sql<BenchmarkSummaryRow>('SELECT * FROM benchmark_summary');
  const [info] = bench ? await ctx.sql<LoraInfoRow>('SELECT * FROM lora_info WHERE name = $name', { name: bench.lora }) : [];
  if (!bench || !info) throw new Error('the run succeeded but left no benchmark_summary row, or no lora_info row for the file it chose');
  const again = names.includes(info.name);
  const { max_stack: maxStack } = loopSettings.parse(ctx.params.loop ?? {});
  // Every promoted LoRA is in every prompt: past a few, their effects interfere, and each
  // new one was judged against the stack, not alone. A full stack is a decision to make.
  const full = mode === 'stack' && stack.length >= maxStack;
  const promoting = bench.verdict === 'promote' && !again && !full;
  const merged = promoting && mode === 'merge' ? await mergeWinner(ctx, info, Number(bench.weight), round.round, now()) : null;
  const deployed = merged ? await deployMerged(ctx, merged) : '';
  const promotion = promoting && mode === 'stack' ? await promote(ctx, info, Number(bench.weight), round, now()) : null;
  // The weights the benchmark re-tuned the stack to (benchmark.stack_weights) were judged together with the winner.
  const retuned = promoting ? retunedWeights(before, bench.stack ?? []) : [];
  const done: LoopRound = {
    ...round,
    finished_at: now().toISOString(),
    lora: info.name,
    adherence_before: bench.baseline_adherence,
    adherence_after: bench.candidate_adherence,
    verdict: promoting ? 'promote' : 'reject',
    reason: again
      ? `${info.name} is already promoted (the dataset did not change)`
      : bench.verdict === 'promote' && full
        ? `${bench.reason}; but the stack already holds ${stack.length} LoRA(s) (loop.max_stack ${maxStack}): drop one with \`pipeline promoted --drop NAME\` or raise loop.max_stack`
        : merged ? `${bench.reason}; merged into ${merged.path}${deployed}` : bench.reason,
    promoted: promotion ? [...names, promotion.name] : names,
  };
  await finishRound(ctx.sql, done, promotion, merged, retuned);
  ctx.stdout(`round ${round.round}: ${info.name}: ${done.verdict}: ${done.reason}\n`);
  // The state now holds the focused batch's results, so `pipeline status` rightly lists
  // resolve's params (resolve.fixed, resolve.count) as changed: say where that comes from.
  if (Object.keys(overrides).length) ctx.stdout(`round ${round.round} ran with the ${target ? 'targeted' : 'per-theme'} settings (${Object.keys(overrides).join(', ')}); \`pipeline status\` shows them as changed params until a plain \`pipeline run\` returns to pipeline.yaml's plan\n`);
  return { exitCode: 0, round: done };
}

/**
 * A per-theme pass: a round for each theme, the one a killed run left unfinished first
 * (it resumes under its own theme, so the pass does not train that theme twice).
 */
async function runThemeRounds(ctx: CommandContext, options: LoopOptions, rounds: LoopRound[]): Promise<number> {
  const themes = await roundThemes(ctx);
  const [unfinished] = await ctx.sql<{ theme: string | null }>("SELECT theme FROM loop_rounds WHERE verdict = 'running'").catch(() => []);
  const order = unfinished?.theme ? [unfinished.theme, ...themes.filter((t) => t !== unfinished.theme)] : themes;
  await ctx.release?.();
  for (const theme of order) {
    const { exitCode, round } = await runRound(ctx, options, theme).finally(() => ctx.release?.());
    rounds.push(round);
    if (exitCode !== 0) return exitCode;
  }
  return 0;
}

/** Per-theme passes; with --until-no-gain, they stop after a pass that promoted nothing. */
async function runThemePasses(ctx: CommandContext, options: LoopOptions, rounds: LoopRound[]): Promise<number> {
  checkPerTheme(loopSettings.parse(ctx.params.loop ?? {}), options.targeted);
  for (let i = 0; i < options.rounds; i++) {
    const start = rounds.length;
    const code = await runThemeRounds(ctx, options, rounds);
    if (code !== 0) return code;
    if (options.untilNoGain && rounds.slice(start).every((r) => r.verdict !== 'promote')) {
      ctx.stdout(`stopping: no theme's LoRA brought a gain in rounds ${rounds[start]!.round}-${rounds.at(-1)!.round}\n`);
      break;
    }
  }
  return 0;
}

/** Rounds one after another; stops at a failure, and at a rejection with --until-no-gain. Each round finished goes to `rounds`. */
export async function runRounds(ctx: CommandContext, options: LoopOptions, rounds: LoopRound[] = []): Promise<number> {
  if (options.perTheme || loopSettings.parse(ctx.params.loop ?? {}).per_theme) return runThemePasses(ctx, options, rounds);
  for (let i = 0; i < options.rounds; i++) {
    const { exitCode, round } = await runRound(ctx, options).finally(() => ctx.release?.());
    rounds.push(round);
    if (exitCode !== 0) return exitCode;
    if (options.untilNoGain && round.verdict !== 'promote') {
      ctx.stdout(`stopping: round ${round.round} brought no gain\n`);
      break;
    }
  }
  return 0;
}

/** Runs the rounds on a cron schedule until `stop` aborts; a failed night does not end the schedule. */
export async function runOnSchedule(ctx: CommandContext, pattern: string, options: LoopOptions, stop: AbortSignal): Promise<number> {
  const { Cron } = await import('croner');
  let inFlight: Promise<void> = Promise.resolve();
  let last = 0;
  const tick = async () => {
    last = await runRounds(ctx, options).catch((error: Error) => {
      ctx.stderr(`scheduled round failed: ${error.message}\n`);
      return 1;
    });
    ctx.stdout(`next round at ${describeScheduledTime(job.nextRun())}\n`);
  };
  let job: InstanceType<typeof Cron>;
  try {
    // protect: a round still running when the next time comes is not started twice.
    job = new Cron(pattern, { protect: true }, () => {
      inFlight = tick();
      return inFlight;
    });
  } catch (error) {
    throw new InputError(`expected a cron pattern such as "0 2 * * *": ${(error as Error).message}`, { field: '--schedule' });
  }
  ctx.stdout(`loop scheduled "${pattern}"; first round at ${describeScheduledTime(job.nextRun())} (Ctrl-C to stop)\n`);
  await new Promise<void>((resolve) => (stop.aborted ? resolve() : stop.addEventListener('abort', () => resolve(), { once: true })));
  job.stop();
  await inFlight;
  return last;
}

/** The options as commander parsed them (camelCase). */
export interface LoopFlags {
  rounds?: number;
  untilNoGain?: boolean;
  schedule?: string;
  targeted?: boolean;
  perTheme?: boolean;
  json?: boolean;
}

/** --until-no-gain alone means "until it stops helping", bounded at 20 rounds. */
export function loopOptions(flags: LoopFlags): LoopOptions & { schedule: string | null } {
  const untilNoGain = Boolean(flags.untilNoGain);
  return { rounds: flags.rounds ?? (untilNoGain ? 20 : 1), untilNoGain, targeted: Boolean(flags.targeted), perTheme: Boolean(flags.perTheme), schedule: flags.schedule ?? null };
}

export default defineCommand<LoopFlags>({
  name: 'loop',
  summary: 'run self-improvement rounds: generate, train, benchmark, promote the LoRA if it wins',
  configure(cli) {
    cli
      .option('--rounds <n>', 'rounds to run (default 1; 20 at most with --until-no-gain alone)', integerAtLeast(1))
      .option('--until-no-gain', 'stop after the first round whose LoRA is rejected')
      .option('--schedule <cron>', 'stay in the foreground and run the rounds on this cron schedule (croner syntax, e.g. "0 2 * * *" for 02:00 every night)')
      .option('--targeted', 'train a micro-LoRA for the worst-scoring variation value alone')
      .option('--per-theme', 'a round per theme: each theme\'s LoRA trained on its images and applied to its prompts alone (loop.per_theme)')
      .addOption(cli.createOption('--json', 'print the rounds (what each trained, judged and promoted) as JSON at the end; the rounds\' own lines go to stderr').conflicts('schedule'))
      .addHelpText('after', examples('pipeline loop --rounds 3', 'pipeline loop --until-no-gain --targeted', 'pipeline loop --per-theme', 'pipeline loop --schedule "0 2 * * *"'));
  },
  async run({ options: flags }, ctx) {
    const { schedule, ...options } = loopOptions(flags);
    if (!schedule && flags.json) {
      const rounds: LoopRound[] = [];
      const code = await runRounds({ ...ctx, stdout: ctx.stderr }, options, rounds);
      return writeJsonEnvelope('loop', code, { rounds }, ctx.stdout);
    }
    if (!schedule) return runRounds(ctx, options);
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      return await runOnSchedule(ctx, schedule, options, stop.signal);
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  },
});
