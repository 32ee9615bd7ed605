// `pipeline promoted`: the promoted state every run renders with: the LoRAs (each in every
// prompt or in one theme's; the state table promoted_loras, which generate and benchmark
// read) and the checkpoints loop.promote merge made (merged_checkpoints, the last of which
// generate pins and train builds on), and `--drop NAME` to undo a promotion. Files stay in
// data/models, so a later promotion of the same LoRA finds it again.
import { defineCommand, examples, type CommandContext } from '../src/command.js';
import { InputError } from '../src/errors.js';
import { writeJsonEnvelope } from '../src/json-output.js';
import { readPromoted } from '../stages/generate/promoted.js';
import { mergedCheckpoints, sqlLiteral } from './loop-state.js';
import type { MergedCheckpointRow } from '../schemas/tables.js';

interface PromotedOptions {
  drop?: string;
  json?: boolean;
}

/** The merged checkpoints, oldest first; none before the first merge (no table yet). */
async function readMergedAll(ctx: CommandContext): Promise<MergedCheckpointRow[]> {
  const found = await ctx.sql(`SELECT 1 FROM information_schema.tables WHERE table_name = 'merged_checkpoints' AND table_schema = 'main'`);
  return found.length ? mergedCheckpoints(ctx.sql) : [];
}

async function list(ctx: CommandContext, json: boolean): Promise<number> {
  const promoted = await readPromoted(ctx.sql);
  const merged = await readMergedAll(ctx);
  if (json) {
    return writeJsonEnvelope('promoted', 0, { promoted, merged }, ctx.stdout);
  }
  if (!promoted.length && !merged.length) {
    ctx.stdout('no promoted LoRAs: runs render without any (pipeline loop promotes the ones that win)\n');
    return 0;
  }
  for (const p of promoted) ctx.stdout(`${p.name}\tweight ${p.weight}\tround ${p.round}\t${p.promoted_at}\t${p.hash.slice(0, 12)}\t${p.path}\t${p.theme === null ? 'every theme' : `theme ${p.theme}`}\n`);
  merged.forEach((m, i) => {
    const role = i === merged.length - 1 ? 'the checkpoint every run renders and trains with' : `merged into ${merged[i + 1]!.name}`;
    ctx.stdout(`${m.name}\tmerged checkpoint (${m.lora} at ${m.ratio})\tround ${m.round}\t${m.merged_at}\t${m.hash.slice(0, 12)}\t${m.path}\t${role}\n`);
  });
  return 0;
}

/**
 * A merged checkpoint is in every checkpoint merged onto it, so dropping one drops those
 * too; the one before it (or the base model) becomes what runs use.
 */
async function dropMerged(ctx: CommandContext, merged: MergedCheckpointRow[], name: string): Promise<number> {
  const at = merged.findIndex((m) => m.name === name);
  const gone = merged.slice(at);
  await ctx.sql(`DELETE FROM merged_checkpoints WHERE round >= ${sqlLiteral(merged[at]!.round)}`);
  const now = at > 0 ? `renders and trains with ${merged[at - 1]!.name}` : 'renders with generate.model and trains on train.base_model again';
  const also = gone.length > 1 ? ` and ${gone.slice(1).map((m) => m.name).join(', ')} (merged onto it)` : '';
  ctx.stdout(`dropped ${name}${also}: the next run ${now}\n`);
  return 0;
}

async function drop(ctx: CommandContext, name: string): Promise<number> {
  const promoted = await readPromoted(ctx.sql);
  const merged = await readMergedAll(ctx);
  if (merged.some((m) => m.name === name)) return dropMerged(ctx, merged, name);
  if (!promoted.some((p) => p.name === name)) {
    const known = [...promoted.map((p) => p.name), ...merged.map((m) => m.name)].join(', ') || 'none';
    throw new InputError(`${name} is not promoted (promoted: ${known})`, { field: '--drop' });
  }
  await ctx.sql(`DELETE FROM promoted_loras WHERE name = ${sqlLiteral(name)}`);
  ctx.stdout(`dropped ${name}: the next run renders without it (${promoted.length - 1} promoted LoRA(s) left)\n`);
  return 0;
}

export default defineCommand<PromotedOptions>({
  name: 'promoted',
  summary: 'list the promoted LoRAs and merged checkpoint every run renders with; --drop NAME undoes a promotion',
  configure(cli) {
    cli
      .option('--drop <name>', 'stop using this promoted LoRA or merged checkpoint')
      .option('--json', 'print the list as JSON')
      .addHelpText('after', examples('pipeline promoted', 'pipeline promoted --drop sdloop-3f2a91c0', 'pipeline promoted --drop sdloop-3f2a91c0-merged'));
  },
  async run({ options }, ctx) {
    return options.drop === undefined ? list(ctx, Boolean(options.json)) : drop(ctx, options.drop);
  },
});
