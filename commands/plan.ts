// `pipeline plan`: the rows one prompt file would plan, to look at a template before
// spending GPU hours on it. Touches no state.
import { resolve } from 'node:path';
import type { PromptRow } from '../schemas/tables.js';
import { defineCommand, parseCommandArgs } from '../src/command.js';
import { InputError } from '../src/errors.js';
import { formatRows, outputFormats, type OutputFormat } from '../src/format.js';
import { planPromptFile } from '../stages/resolve/templates/plan.js';

const PLAN_USAGE = 'pipeline plan <prompt file> [--theme NAME] [--style S] [--seeds SPEC] [--fixed SPEC] [--count N] [--format table|json|csv]';

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

export default [plan];
