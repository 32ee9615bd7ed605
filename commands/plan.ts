// `pipeline plan`: the rows one prompt file would plan, to look at a template before
// spending GPU hours on it. Touches no state.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { PromptRow } from '../schemas/tables.js';
import { parseLoraSpec, txt2imgPayload } from '../adapters/a1111.js';
import { defineCommand, examples, integerAtLeast } from '../src/command.js';
import { formatRows, outputFormats, type OutputFormat } from '../src/format.js';
import { writeJsonEnvelope } from '../src/json-output.js';
import { parseThemes, planWithThemes } from '../stages/resolve/templates/theme-mix.js';
import { modes, seedModes, type Answers } from '../stages/resolve/templates/ask.js';
import { answersFor } from './plan-answers.js';
import { isInlineKeyOf } from '../stages/resolve/templates/imports.js';
import { generateParams, renderFamily } from '../stages/generate/backend.js';
import { familySize } from '../adapters/a1111-family.js';
import { InputError } from '../src/errors.js';

interface PlanOptions {
  theme?: string;
  style: string;
  seeds?: string;
  fixed?: string;
  count: number;
  format: OutputFormat;
  payloads?: string;
  json?: boolean;
  mode?: Answers['mode'];
  seedMode?: Answers['seed_mode'];
}

/**
 * The size a request gets when its prompt file sets none, by generate's rule: the
 * checkpoint family's native size (generate.family, else told from the pinned or loaded
 * checkpoint). The synthetic backend has no checkpoint: SD 1.5's size unless generate.family says.
 */
async function defaultSize(params: Record<string, unknown>): Promise<number> {
  const parsed = generateParams.safeParse(params.generate ?? {});
  if (!parsed.success) throw new InputError(`expected generate's params: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, { field: 'generate' });
  const generate = parsed.data;
  if (generate.backend !== 'a1111' && generate.family === 'auto') return familySize.sd15;
  const guess = await renderFamily(generate).catch((error: Error) => {
    throw new InputError(`the payloads' size depends on the checkpoint's family: ${error.message}`, { field: 'generate.family' });
  });
  return familySize[guess.family];
}

/**
 * One `<idx>.json` per image: the exact POST /sdapi/v1/txt2img body generate would send
 * (generate.model pinned, generate.loras added, the family's size where the file gives
 * none, ControlNet images base64-encoded).
 */
async function writePayloads(dir: string, rows: PromptRow[], params: Record<string, unknown>): Promise<void> {
  const generate = (params.generate ?? {}) as { model?: string | null; loras?: string[] };
  const options = { model: generate.model ?? null, loras: (generate.loras ?? []).map(parseLoraSpec), defaultSize: await defaultSize(params) };
  mkdirSync(dir, { recursive: true });
  for (const row of rows) {
    writeFileSync(join(dir, `${String(row.idx).padStart(4, '0')}.json`), `${JSON.stringify(txt2imgPayload(row, options), null, 2)}\n`);
  }
}

/** What people read: one line per image, the chosen keys (an inline one with its text: `--fixed` takes the key) and the prompt sent. */
function summaryRow(row: PromptRow) {
  const keys = Object.entries(row.variations)
    .map(([axis, v]) => (isInlineKeyOf(v.key, v.text) ? `${axis}=${v.key} (${JSON.stringify(v.text)})` : `${axis}=${v.key}`))
    .join(' ');
  return { idx: row.idx, seed: row.seed, variations: keys, api_prompt: row.api_prompt };
}

export default defineCommand<PlanOptions>({
  name: 'plan',
  summary: 'print the prompts one prompt file would plan, touching no state',
  standalone: true,
  configure(cli) {
    cli
      .argument('<prompt-file>', 'the .prompt.yaml file to plan')
      .option('--theme <spec>', 'apply this theme, or mix several per image: cyberpunk,fantasy or cyberpunk:50,fantasy:30')
      .option('--style <name>', 'the theme style', 'default')
      .option('--seeds <spec>', 'seed sweep, e.g. 3#10 (3 seeds from 10)')
      .option('--fixed <spec>', 'pin variation keys, e.g. Location:Beach')
      .option('--count <n>', 'rows to plan (0: as the file says)', integerAtLeast(0), 0)
      .addOption(cli.createOption('--format <format>', 'how to print the rows').choices(outputFormats).default('table'))
      .addOption(cli.createOption('--mode <mode>', 'the answer to generation.mode: ask').choices(modes))
      .addOption(cli.createOption('--seed-mode <mode>', 'the answer to generation.seed_mode: ask').choices(seedModes))
      .option('--payloads <dir>', "also write each image's exact txt2img request body as <idx>.json into this folder")
      .option('--json', 'print the rows and warnings in the JSON envelope every command prints with --json')
      .addHelpText('after', examples(
        'pipeline plan data/prompts/character.prompt.yaml --count 5',
        'pipeline plan data/prompts/scenery.prompt.yaml --fixed Location:Beach --format json',
        'pipeline plan data/prompts/portrait.prompt.yaml --count 3 --payloads /tmp/payloads',
      ));
  },
  async run({ args: [file], options }, ctx) {
    const answers = await answersFor(file!, { mode: options.mode, seed_mode: options.seedMode });
    const result = planWithThemes(resolve(file!), {
      projectDir: ctx.projectDir, style: options.style, seeds: options.seeds ?? null, fixed: options.fixed ?? null, count: options.count, answers,
    }, parseThemes(options.theme));
    if (options.payloads) await writePayloads(resolve(options.payloads), result.rows, ctx.params);
    if (options.json) return writeJsonEnvelope('plan', 0, { rows: result.rows, warnings: result.warnings }, ctx.stdout);
    for (const warning of result.warnings) ctx.stderr(`warning: ${warning}\n`);
    ctx.stdout(formatRows(options.format === 'table' ? result.rows.map(summaryRow) : result.rows, options.format));
    return 0;
  },
});
