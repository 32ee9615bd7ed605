// The answers to `mode: ask` / `seed_mode: ask` for the commands that plan a file: given
// as options, or asked on a terminal (as sdgen asks); with neither, planning names both.
import { dirname, resolve } from 'node:path';
import { questionsOf, type Answers } from '../stages/resolve/templates/ask.js';
import { resolveInheritance } from '../stages/resolve/templates/inherit.js';
import { TemplateLoader } from '../stages/resolve/templates/loader.js';

const label = { mode: 'generation mode', seed_mode: 'seed mode' } as const;

export async function answersFor(file: string, given: Answers): Promise<Answers> {
  const path = resolve(file);
  const questions = questionsOf(resolveInheritance(new TemplateLoader(dirname(path)), path)).filter((q) => !given[q.field]);
  if (questions.length === 0 || !process.stdin.isTTY) return given;
  const { select } = await import('@inquirer/prompts');
  const answers: Answers = { ...given };
  for (const q of questions) {
    // stderr, so that `plan --format json > plan.json` still gets only the rows.
    const value = await select({ message: `${file}: ${label[q.field]}`, choices: q.choices.map((c) => ({ value: c })) }, { output: process.stderr });
    Object.assign(answers, { [q.field]: value });
  }
  return answers;
}
