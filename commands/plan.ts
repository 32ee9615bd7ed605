// `pipeline plan`, `pipeline validate` and `pipeline schema export`: look at templates
// before spending GPU hours on them. None of them touches the pipeline state.
import { resolve, join } from 'node:path';
import { z } from 'zod';
import { pipelineConfigSchema } from '../schemas/pipeline.js';
import { templateFileSchemas } from '../schemas/templates.js';
import type { PromptRow } from '../schemas/tables.js';
import { writeFileAtomic } from '../src/atomic.js';
import { defineCommand, parseCommandArgs } from '../src/command.js';
import { InputError, InputErrors } from '../src/errors.js';
import { formatRows, outputFormats, type OutputFormat } from '../src/format.js';
import { resolveParams } from '../stages/resolve/index.js';
import { findPromptFiles } from '../stages/resolve/templates/discover.js';
import { planPromptFile } from '../stages/resolve/templates/plan.js';
import { globBase, validateTemplates } from '../stages/resolve/templates/validate.js';

const PLAN_USAGE = 'pipeline plan <prompt file> [--theme NAME] [--style S] [--seeds SPEC] [--fixed SPEC] [--count N] [--format table|json|csv]';
const SCHEMA_USAGE = 'pipeline schema export [--out DIR]   (default DIR: schemas/json)';

function formatOf(value: string | undefined): OutputFormat {
  const format = (value ?? 'table') as OutputFormat;
  if (!outputFormats.includes(format)) throw new InputError(`--format ${value}: expected one of ${outputFormats.join(', ')}`, { field: '--format' });
  return format;
}

function countOf(value: string | undefined): number {
  if (value === undefined) return 0;
  if (!/^\d+$/.test(value)) throw new InputError(`--count ${value}: expected a whole number >= 0`, { field: '--count' });
  return Number(value);
}

/** What people read: one line per image, the chosen keys and the prompt sent. */
function summaryRow(row: PromptRow) {
  const keys = Object.entries(row.variations).map(([axis, v]) => `${axis}=${v.key}`).join(' ');
  return { idx: row.idx, seed: row.seed, variations: keys, api_prompt: row.api_prompt };
}

const plan = defineCommand({
  name: 'plan',
  summary: 'print the prompts one prompt file would plan, touching no state',
  usage: PLAN_USAGE,
  async run(args, ctx) {
    const { values, positionals } = parseCommandArgs(
      {
        args, allowPositionals: true,
        options: { theme: { type: 'string' }, style: { type: 'string' }, seeds: { type: 'string' }, fixed: { type: 'string' }, count: { type: 'string' }, format: { type: 'string' } },
      },
      PLAN_USAGE,
    );
    if (positionals.length !== 1) throw new InputError(`expected one prompt file; usage: ${PLAN_USAGE}`);
    const format = formatOf(values.format);
    const result = planPromptFile(resolve(positionals[0]!), {
      projectDir: ctx.projectDir, theme: values.theme ?? null, style: values.style ?? 'default',
      seeds: values.seeds ?? null, fixed: values.fixed ?? null, count: countOf(values.count),
    });
    for (const warning of result.warnings) ctx.stderr(`warning: ${warning}\n`);
    ctx.stdout(formatRows(format === 'table' ? result.rows.map(summaryRow) : result.rows, format));
    return 0;
  },
});

const validate = defineCommand({
  name: 'validate',
  summary: 'check every prompt, template, chunk, variations and theme file; report every problem',
  usage: 'pipeline validate [file or folder...]',
  async run(args, ctx) {
    const { positionals } = parseCommandArgs({ args, allowPositionals: true, options: {} });
    const options = resolveParams.parse({ resolve: (ctx.params as { resolve?: unknown }).resolve }).resolve;
    const entries = await findPromptFiles(ctx.projectDir, options.prompts);
    const folders = positionals.length > 0 ? positionals.map((p) => resolve(p)) : options.prompts.map(globBase);
    const report = validateTemplates(entries, folders, { projectDir: ctx.projectDir, ...options });
    for (const warning of report.warnings) ctx.stderr(`warning: ${warning.format()}\n`);
    if (report.problems.length > 0) throw new InputErrors(report.problems);
    ctx.stdout(`ok: ${report.files.length} files checked, ${entries.length} prompt files planned\n`);
    return 0;
  },
});

/**
 * JSON Schema of every file a user writes, for editors (`# yaml-language-server: $schema=...`).
 * Draft-07 because that is the draft VS Code's YAML extension supports best; `input` because
 * users write the input side (defaults optional, scalars before they become text).
 */
export function jsonSchemas(): Record<string, unknown> {
  const all: Record<string, z.ZodType> = { ...templateFileSchemas, pipeline: pipelineConfigSchema };
  return Object.fromEntries(
    Object.entries(all).map(([name, schema]) => [name, z.toJSONSchema(schema, { target: 'draft-07', io: 'input', unrepresentable: 'any' })]),
  );
}

const schema = defineCommand({
  name: 'schema',
  summary: 'write JSON Schema for pipeline.yaml and the template files (for editor autocompletion)',
  usage: SCHEMA_USAGE,
  async run(args, ctx) {
    const { values, positionals } = parseCommandArgs({ args, allowPositionals: true, options: { out: { type: 'string' } } }, SCHEMA_USAGE);
    if (positionals[0] !== 'export' || positionals.length !== 1) throw new InputError(`expected "schema export"; usage: ${SCHEMA_USAGE}`);
    const out = values.out ? resolve(values.out) : join(ctx.projectDir, 'schemas', 'json');
    for (const [name, json] of Object.entries(jsonSchemas())) {
      const file = join(out, `${name}.schema.json`);
      await writeFileAtomic(file, JSON.stringify(json, null, 2) + '\n');
      ctx.stdout(`wrote ${file}\n`);
    }
    return 0;
  },
});

export default [plan, validate, schema];
