// The fixed benchmark: the same prompts and seeds every round, so that two rounds'
// numbers compare. Design: one axis per prompt. For every axis and every value of it,
// `prompts_per_value` prompts (the template with the value's text) on seeds seed_base,
// seed_base + 1, ...; the other values of the axis are the alternatives the scorer
// compares against. Both arms (baseline, candidate) render exactly these rows. A
// per-theme round (benchmark.theme) renders them as that theme's prompts: with the
// theme's own plan and template when benchmark.themes gives them, and carrying the theme, so the
// baseline has that theme's promoted LoRAs in it and no other theme's.
import { z } from 'zod';
import { hashValue } from '../../src/hash.js';
import type { AxisAlternativesRow, PromptRow } from '../../schemas/tables.js';
import { axisAlternatives, indexAlternatives, type AlternativesIndex } from '../resolve/alternatives.js';
import { scoreParams } from '../score/params.js';

const axesPlan = z.record(z.string(), z.record(z.string(), z.string()));
const valueTemplate = z.string().includes('{value}', { message: 'expected a template containing {value}' });

export const benchmarkSettings = z.object({
  axes: axesPlan
    .default({})
    .describe('the fixed plan: {Axis: {key: text}}, e.g. {Hair: {red: "red hair", blonde: "blonde hair"}}'),
  template: valueTemplate.default('{value}')
    .describe('the prompt, with {value} where the value text goes'),
  negative_prompt: z.string().default(''),
  width: z.number().int().positive().default(512),
  height: z.number().int().positive().default(512),
  prompts_per_value: z.number().int().positive().default(8),
  seed_base: z.number().int().min(0).default(1000),
  weight: z.number().positive().default(0.8).describe('the candidate LoRA weight W in <lora:NAME:W>'),
  weights: z.array(z.number().positive()).min(1).nullable().default(null)
    .describe('weights to try each saved epoch at (the best point is promoted); null: `weight` alone'),
  stack_weights: z.array(z.number().positive()).min(2).nullable().default(null)
    .describe('re-tune the whole stack: the weights each promoted LoRA and the candidate may take, searched one LoRA at a time from the chosen point; null: the promoted weights stay'),
  stack_points: z.number().int().positive().default(6)
    .describe('stack_weights: at most this many stack weightings rendered (each one benchmark plan of renders)'),
  alpha: z.number().gt(0).lt(1).default(0.05).describe('significance level of the one-sided test for improvement'),
  tolerance: z.number().min(0).max(1).default(0.1).describe('the largest drop in one value\'s success rate that is accepted'),
  diversity_tolerance: z.number().min(0).max(1).default(0.25)
    .describe("the largest relative fall in one value's mean pairwise embedding distance that is accepted"),
  diversity_features: z.enum(['embedding', 'pixels']).default('embedding')
    .describe("what the diversity guard compares: the scorer's image embeddings, or a grey thumbnail of the whole frame"),
  near_duplicate_distance: z.number().min(0).max(2).default(0.002)
    .describe('cosine distance of two image embeddings at or under which they count as near duplicates'),
  theme: z.string().min(1).nullable().default(null)
    .describe("a per-theme round (pipeline loop with loop.per_theme): the plan's prompts are this theme's"),
  themes: z.record(z.string(), z.object({
    axes: axesPlan.optional().describe("the theme's own plan in place of `axes` (a theme's values differ: cyberpunk's HairColor is Neon, Chrome, Cyan)"),
    template: valueTemplate.optional().describe('in place of `template`'),
  })).default({})
    .describe('per theme, what its benchmark prompts use in place of the plan above: {cyberpunk: {axes: {HairColor: {Neon: neon pink hair}}, template: "neon city, {value}"}}'),
  focus: z.object({ axis: z.string(), value: z.string() }).nullable().default(null)
    .describe('a targeted round (pipeline loop --targeted): the improvement is tested on this value\'s pairs, the tolerance still on every value'),
  judge: scoreParams.nullable().default(null)
    .describe('an independent second scoring model (score params, e.g. {model: models/clip-large}); its verdict must agree for promotion'),
});
export type BenchmarkSettings = z.infer<typeof benchmarkSettings>;

/** The benchmark's prompt rows and the alternatives (one set per axis) their variations name. */
export interface BenchmarkPlan {
  prompts: PromptRow[];
  alternatives: AlternativesIndex;
}

export function benchmarkPrompts(s: BenchmarkSettings): BenchmarkPlan {
  const rows: PromptRow[] = [];
  const sets: AxisAlternativesRow[] = [];
  const own = s.theme === null ? undefined : s.themes[s.theme];
  const template = own?.template ?? s.template;
  const axes = own?.axes ?? s.axes;
  // Added only when set, so the ids of a plan without a theme stay what earlier rounds recorded.
  const themed = s.theme === null ? {} : { theme: s.theme };
  for (const axis of Object.keys(axes).sort()) {
    const values = axes[axis]!;
    const keys = Object.keys(values);
    const texts = keys.map((k) => values[k]!);
    const set = axisAlternatives(axis, keys, texts);
    sets.push(set);
    for (const key of keys) {
      for (let i = 0; i < s.prompts_per_value; i++) {
        const seed = s.seed_base + i;
        const prompt = template.replaceAll('{value}', values[key]!);
        const variations = { [axis]: { key, value: values[key], text: values[key]!, alternatives: set.alternatives } };
        // Hashed as before the alternatives moved to their own table, so benchmark prompt ids stay what rounds recorded.
        const identity = { [axis]: { key, value: values[key], keys, texts } };
        rows.push({
          prompt_id: hashValue({ benchmark: 1, prompt, negative: s.negative_prompt, seed, variations: identity, w: s.width, h: s.height, ...themed }),
          source: 'benchmark',
          session: 'benchmark',
          theme: s.theme,
          style: null,
          idx: i,
          prompt,
          api_prompt: prompt,
          negative_prompt: s.negative_prompt,
          seed,
          variations,
          params: { width: s.width, height: s.height },
          manifest: {},
          manifest_variations: '',
        });
      }
    }
  }
  return { prompts: rows, alternatives: indexAlternatives(sets) };
}
