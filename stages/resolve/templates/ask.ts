// `mode: ask` and `seed_mode: ask`: sdgen asks at generation time. Planning itself never
// waits on a person, so the answers come in with the plan options (the plan command asks
// on a terminal first); without one the message says how to give them.
import type { GenerationBlock } from '../../../schemas/templates.js';
import { errorAt } from '../../../src/yaml-file.js';
import type { ResolvedPrompt } from './inherit.js';

export const modes = ['combinatorial', 'random'] as const;
export const seedModes = ['fixed', 'progressive', 'random'] as const;

export interface Answers {
  mode?: (typeof modes)[number] | null;
  seed_mode?: (typeof seedModes)[number] | null;
}

type Concrete = GenerationBlock & { mode: NonNullable<Answers['mode']>; seed_mode: NonNullable<Answers['seed_mode']> };
export type AnsweredPrompt = ResolvedPrompt & { generation: Concrete };

/** The generation fields of a resolved prompt that say `ask`, with the choices for each. */
export function questionsOf(resolved: ResolvedPrompt): { field: keyof Answers; choices: readonly string[] }[] {
  const out: { field: keyof Answers; choices: readonly string[] }[] = [];
  if (resolved.generation.mode === 'ask') out.push({ field: 'mode', choices: modes });
  if (resolved.generation.seed_mode === 'ask') out.push({ field: 'seed_mode', choices: seedModes });
  return out;
}

export function withAnswers(resolved: ResolvedPrompt, answers: Answers = {}): AnsweredPrompt {
  const pick = <T extends string>(field: keyof Answers, written: T | 'ask', answer: T | null | undefined, choices: readonly string[]): T => {
    if (written !== 'ask') return written;
    if (answer) return answer;
    const option = field === 'mode' ? '--mode' : '--seed-mode';
    throw errorAt(resolved.entry, ['generation', field], `${field}: ask needs an answer: run \`pipeline plan\` on a terminal to be asked, or pass ${option} ${choices.join('|')}`);
  };
  const g = resolved.generation;
  const mode = pick('mode', g.mode, answers.mode, modes);
  const seedMode = pick('seed_mode', g.seed_mode, answers.seed_mode, seedModes);
  return { ...resolved, generation: { ...g, mode, seed_mode: seedMode } };
}
