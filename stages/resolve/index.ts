// resolve: sdgen V2.0 prompt files (and the templates, chunks, variations and themes they
// reach) -> table `planned`, one row per planned image, in plan order (catalog adds the
// imported prompts to make `prompts`).
import { z } from 'zod';
import { axisAlternativesRow, manifestVariationsRow, promptRow, type AxisAlternativesRow, type ManifestVariationsRow, type PromptRow } from '../../schemas/tables.js';
import { distinctAlternatives } from './alternatives.js';
import { InputError, InputErrors } from '../../src/errors.js';
import { defineStage, type StageContext } from '../../src/stage.js';
import { findPromptFiles } from './templates/discover.js';
import { parseThemes, planWithThemes } from './templates/theme-mix.js';

const text = z.union([z.string(), z.number()]).transform(String);
const globs = z.union([z.string().transform((glob) => [glob]), z.array(z.string())]);
const themeSpec = z.union([z.string(), z.array(z.string()), z.record(z.string(), z.number().positive())]).nullable()
  .describe('a theme, a list (shared equally) or weights: cyberpunk:50,fantasy:30 or {cyberpunk: 50, fantasy: 30}');

/** One entry of resolve.runs: its own prompts, theme, style, count and seeds, planned as its own session. */
const runPlan = z.strictObject({
  name: z.string().regex(/^[\p{L}\p{N}_-]+$/u).optional().describe('appended to the session name (default run<N>)'),
  prompts: globs,
  theme: themeSpec.default(null),
  style: z.string().default('default'),
  count: z.number().int().min(0).default(0),
  seeds: text.nullable().default(null),
  fixed: z.string().nullable().default(null),
});

export const resolveParams = z.object({
  resolve: z.object({
    prompts: globs.default(['data/prompts/**/*.prompt.yaml'])
      .describe('globs of entry prompt files, relative to the project; planned in this order'),
    theme: themeSpec.default(null).describe('applied to files that declare themes; a list or weights mix themes per image'),
    style: z.string().default('default').describe('theme style: picks X.<style> imports'),
    seeds: text.nullable().default(null).describe('seed sweep: C#S, a,b,c, a-b or one integer'),
    fixed: z.string().nullable().default(null).describe('pinned placeholders: Name:key|Name2:key2'),
    count: z.number().int().min(0).default(0).describe('at most this many images per prompt file; 0 = no cap'),
    runs: z.array(runPlan).optional().describe('run plans: each its own prompts, theme, style, count and seeds, and its own session'),
  }).default({ prompts: ['data/prompts/**/*.prompt.yaml'], theme: null, style: 'default', seeds: null, fixed: null, count: 0 }),
});

export type ResolveParams = z.infer<typeof resolveParams>;
type Plan = Omit<z.infer<typeof runPlan>, 'name'> & { session?: string };

async function promptFiles(projectDir: string, plan: Plan, field: string): Promise<string[]> {
  const files = await findPromptFiles(projectDir, plan.prompts);
  if (files.length === 0) {
    throw new InputError(`no prompt file matches ${plan.prompts.join(', ')} (relative to the project folder)`, { field });
  }
  return files;
}

/** The plans resolve makes: the params' own, or one per entry of resolve.runs, each with the field that names its prompts. */
function plansOf(options: ResolveParams['resolve']): { plan: Plan; field: string }[] {
  if (!options.runs) return [{ plan: options, field: 'resolve.prompts' }];
  return options.runs.map((run, i) => ({ plan: { ...run, session: run.name ?? `run${i + 1}` }, field: `resolve.runs[${i}].prompts` }));
}

interface Planned {
  rows: PromptRow[];
  axes: AxisAlternativesRow[];
  manifests: Map<string, ManifestVariationsRow>;
}

async function planFiles(ctx: StageContext<ResolveParams>, plan: Plan, field: string, into: Planned): Promise<void> {
  for (const file of await promptFiles(ctx.projectDir, plan, field)) {
    const result = planWithThemes(file, { projectDir: ctx.projectDir, ...plan }, parseThemes(plan.theme));
    ctx.dependOn(result.files);
    for (const warning of result.warnings) ctx.warn(warning);
    ctx.log(`${file}: ${result.rows.length} prompts`);
    // One push per row: spreading 100,000 rows into push() overflows the call stack.
    for (const row of result.rows) into.rows.push(plan.session ? { ...row, session: `${row.session}-${plan.session}` } : row);
    into.axes.push(...result.axes);
    for (const m of result.manifests) into.manifests.set(m.manifest_variations, m);
  }
}

/** An error raised deep inside planning may not know its file: the entry file it was planning is named then. */
function inEntry(file: string, error: unknown): unknown {
  const locate = (e: InputError) => (e.where.file ? e : new InputError(e.message, { ...e.where, file }));
  if (error instanceof InputErrors) return new InputErrors(error.errors.map(locate));
  return error instanceof InputError ? locate(error) : error;
}

/**
 * Every entry file loaded and planned up to its first image (per theme): inheritance,
 * chunks, imports, placeholders, selectors and presets are all checked there, and the
 * cost does not grow with the number of images.
 */
async function checkPlans(params: ResolveParams, projectDir: string): Promise<void> {
  for (const { plan, field } of plansOf(params.resolve)) {
    const themes = parseThemes(plan.theme);
    for (const file of await promptFiles(projectDir, plan, field)) {
      try {
        planWithThemes(file, { projectDir, ...plan, count: 1 }, themes);
      } catch (error) {
        throw inEntry(file, error);
      }
    }
  }
}

export default defineStage({
  description: 'plan one prompt row per image from sdgen V2.0 prompt files',
  version: '1',
  params: resolveParams,
  outputs: {
    planned: { kind: 'table', schema: promptRow, key: ['prompt_id'] },
    planned_axes: { kind: 'table', schema: axisAlternativesRow },
    planned_manifests: { kind: 'table', schema: manifestVariationsRow },
  },
  check: checkPlans,
  async run(ctx) {
    const planned: Planned = { rows: [], axes: [], manifests: new Map() };
    for (const { plan, field } of plansOf(ctx.params.resolve)) await planFiles(ctx, plan, field, planned);
    return { planned: planned.rows, planned_axes: distinctAlternatives(planned.axes), planned_manifests: [...planned.manifests.values()] };
  },
});
