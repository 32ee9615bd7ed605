// `pipeline promoted`: the LoRAs runs render with, each in every prompt or in one theme's (the state table promoted_loras,
// which generate and benchmark read), and `--drop NAME` to undo a promotion. The file
// stays in data/models/lora, so a later promotion of the same LoRA finds it again.
import { defineCommand, examples, type CommandContext } from '../src/command.js';
import { InputError } from '../src/errors.js';
import { writeJsonEnvelope } from '../src/json-output.js';
import { readPromoted } from '../stages/generate/promoted.js';
import { sqlLiteral } from './loop-state.js';

interface PromotedOptions {
  drop?: string;
  json?: boolean;
}

async function list(ctx: CommandContext, json: boolean): Promise<number> {
  const promoted = await readPromoted(ctx.sql);
  if (json) {
    return writeJsonEnvelope('promoted', 0, { promoted }, ctx.stdout);
  }
  if (!promoted.length) {
    ctx.stdout('no promoted LoRAs: runs render without any (pipeline loop promotes the ones that win)\n');
    return 0;
  }
  for (const p of promoted) ctx.stdout(`${p.name}\tweight ${p.weight}\tround ${p.round}\t${p.promoted_at}\t${p.hash.slice(0, 12)}\t${p.path}\t${p.theme === null ? 'every theme' : `theme ${p.theme}`}\n`);
  return 0;
}

async function drop(ctx: CommandContext, name: string): Promise<number> {
  const promoted = await readPromoted(ctx.sql);
  if (!promoted.some((p) => p.name === name)) {
    const known = promoted.map((p) => p.name).join(', ') || 'none';
    throw new InputError(`${name} is not promoted (promoted: ${known})`, { field: '--drop' });
  }
  await ctx.sql(`DELETE FROM promoted_loras WHERE name = ${sqlLiteral(name)}`);
  ctx.stdout(`dropped ${name}: the next run renders without it (${promoted.length - 1} promoted LoRA(s) left)\n`);
  return 0;
}

export default defineCommand<PromotedOptions>({
  name: 'promoted',
  summary: 'list the promoted LoRAs every run renders with; --drop NAME undoes a promotion',
  configure(cli) {
    cli
      .option('--drop <name>', 'stop using this promoted LoRA')
      .option('--json', 'print the list as JSON')
      .addHelpText('after', examples('pipeline promoted', 'pipeline promoted --drop sdloop-3f2a91c0'));
  },
  async run({ options }, ctx) {
    return options.drop === undefined ? list(ctx, Boolean(options.json)) : drop(ctx, options.drop);
  },
});
