// `pipeline loop --targeted`: a round for the one value the model fails most. The target
// is the value whose Wilson upper bound of success is lowest (among values with enough
// images: a value seen twice and missed twice is not yet known to be bad, and a low
// bound of a rate that could still be high is no reason to spend a round on it). The
// round renders a focused batch holding that value (the other axes vary), keeps the best
// share of it, trains a micro-LoRA named after the value, and benchmark judges it on that
// value while still refusing a regression of any other.
import type { CommandContext } from '../src/command.js';
import { wilson } from '../stages/benchmark/stats.js';
import type { LoopSettings } from './loop-settings.js';

export interface Target {
  axis: string;
  value: string;
  /** the share of its images that matched; NaN when resumed from the round's record */
  rate: number;
  /** the Wilson upper bound it was chosen by */
  upper: number;
}

export interface ValueTally {
  axis: string;
  value: string;
  n: number;
  successes: number;
}

/**
 * The value with the lowest Wilson upper bound among those with min_images or more (ties
 * by name). With `judged` (benchmark.axes), only values the benchmark renders: a round
 * whose micro-LoRA the benchmark cannot test on its own value would be spent for nothing.
 */
export function pickTarget(tallies: ValueTally[], minImages: number, judged?: Record<string, Record<string, string>>): Target | null {
  const ranked = tallies
    .filter((t) => t.n >= minImages && (!judged || judged[t.axis]?.[t.value] !== undefined))
    .map((t) => ({ axis: t.axis, value: t.value, rate: t.successes / t.n, upper: wilson(t.successes, t.n).high }))
    .sort((a, b) => a.upper - b.upper || a.axis.localeCompare(b.axis) || a.value.localeCompare(b.value));
  return ranked[0] ?? null;
}

const TALLY = `SELECT axis, value, count(*) AS n, sum(CASE WHEN matched THEN 1 ELSE 0 END) AS successes FROM scores GROUP BY axis, value`;

/** The target from the latest scores, running up to score first when there are none. */
export async function chooseTarget(ctx: CommandContext, settings: LoopSettings): Promise<Target> {
  let rows = await ctx.sql<ValueTally>(TALLY).catch(() => null);
  if (!rows) {
    const summary = await ctx.run({ targets: ['score'], set: {} });
    if (!summary.ok) throw new Error(`--targeted needs scores, and running up to score failed (exit ${summary.exitCode})`);
    rows = await ctx.sql<ValueTally>(TALLY);
  }
  const tallies = rows.map((r) => ({ axis: r.axis, value: r.value, n: Number(r.n), successes: Number(r.successes) }));
  const judged = ((ctx.params.benchmark ?? {}) as { axes?: Record<string, Record<string, string>> }).axes;
  const target = pickTarget(tallies, settings.min_images, judged);
  if (!target) throw new Error(`--targeted: no value of benchmark.axes has ${settings.min_images} scored images yet (loop.min_images); run the pipeline first`);
  return target;
}

export function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40) || 'value';
}

/** What a targeted round sets: the focused batch, the selection share, the LoRA's name and the benchmark's focus. */
export function targetedOverrides(ctx: CommandContext, target: Target, settings: LoopSettings): Record<string, unknown> {
  const prefix = ((ctx.params.train ?? {}) as { name_prefix?: string }).name_prefix ?? 'sdloop';
  return {
    'resolve.fixed': `${target.axis}:${target.value}`,
    'resolve.count': settings.focused_images,
    'select.target': { axis: target.axis, value: target.value },
    'select.top_fraction': settings.keep_fraction,
    'train.name_prefix': `${prefix}-${slug(target.axis)}-${slug(target.value)}`,
    'benchmark.focus': { axis: target.axis, value: target.value },
  };
}
