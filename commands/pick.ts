// `pipeline pick <prompt file>`: choose values to pin, one placeholder at a time, seeing
// how many images remain, then copy the printed --fixed spec into plan or resolve.fixed.
import { resolve } from 'node:path';
import { defineCommand, examples } from '../src/command.js';
import { InputError } from '../src/errors.js';
import { planPromptFile } from '../stages/resolve/templates/plan.js';
import { indexAlternatives } from '../stages/resolve/alternatives.js';
import { answersFor } from './plan-answers.js';
import { writeJsonEnvelope } from '../src/json-output.js';

type PickOptions = { theme?: string; style: string; json?: boolean };

/** `Name:key|Name2:key2`, the form plan --fixed and resolve.fixed read. */
export function fixedSpec(fixed: Map<string, string>): string {
  return [...fixed].map(([name, key]) => `${name}:${key}`).join('|');
}

const DONE = '\u0000done';
const ANY = '\u0000any';

export default defineCommand<PickOptions>({
  name: 'pick',
  summary: 'choose placeholder values to pin, seeing the image count; prints the --fixed spec',
  standalone: true,
  configure(cli) {
    cli
      .argument('<prompt-file>', 'the .prompt.yaml file')
      .option('--theme <name>', 'apply this theme')
      .option('--style <name>', 'the theme style', 'default')
      .option('--json', 'print what was picked (spec, values, image count) as JSON at the end; it still asks on the terminal')
      .addHelpText('after', examples('pipeline pick data/prompts/character.prompt.yaml', 'pipeline plan data/prompts/character.prompt.yaml --fixed "$(pipeline pick data/prompts/character.prompt.yaml)"'));
  },
  async run({ args: [file], options }, ctx) {
    if (!process.stdin.isTTY) throw new InputError('pick asks on a terminal; without one, write the spec for --fixed yourself (Name:key|Name2:key2)', { field: 'stdin' });
    const { select } = await import('@inquirer/prompts');
    const answers = await answersFor(file!, {});
    const planned = (fixed: Map<string, string>) => planPromptFile(resolve(file!), {
      projectDir: ctx.projectDir, theme: options.theme ?? null, style: options.style, fixed: fixedSpec(fixed) || null, answers,
    });
    const plan = (fixed: Map<string, string>) => planned(fixed).rows;
    const whole = planned(new Map());
    const sets = indexAlternatives(whole.axes);
    const first = whole.rows[0];
    const axes = first ? Object.entries(first.variations).map(([name, v]) => ({ name, keys: sets.get(v.alternatives)!.keys, texts: sets.get(v.alternatives)!.texts })) : [];
    const fixed = new Map<string, string>();
    // The questions go to stderr, so that $(pipeline pick ...) captures only the spec.
    const io = { output: process.stderr };
    for (;;) {
      const count = plan(fixed).length;
      const choices = [
        ...axes.map((a) => ({ value: a.name, name: `${a.name} (${a.keys.length} values)${fixed.has(a.name) ? ` = ${fixed.get(a.name)}` : ''}` })),
        { value: DONE, name: `done: ${count} images` },
      ];
      const axisName = await select({ message: `${count} images; fix which placeholder?`, choices, pageSize: 20 }, io);
      if (axisName === DONE) break;
      const axis = axes.find((a) => a.name === axisName)!;
      const values = [{ value: ANY, name: '(any: do not fix)' }, ...axis.keys.map((k, i) => ({ value: k, name: `${k}: ${axis.texts[i]}` }))];
      const key = await select({ message: `${axis.name}:`, choices: values, pageSize: 20 }, io);
      if (key === ANY) fixed.delete(axis.name);
      else fixed.set(axis.name, key);
    }
    if (options.json) return writeJsonEnvelope('pick', 0, { fixed: fixedSpec(fixed), values: Object.fromEntries(fixed), images: plan(fixed).length }, ctx.stdout);
    ctx.stdout(`${fixedSpec(fixed)}\n`);
    return 0;
  },
});
