// The promoted LoRAs are project state, not a loop-only override: the state table
// `promoted_loras` (written by `pipeline loop`, undone by `pipeline promoted --drop`) is
// read by generate and by benchmark's baseline on every run, so a plain `pipeline run`
// renders with the same LoRAs the loop judged against, and `pipeline status` after a
// loop says what a run would do rather than what the loop's overrides did. A LoRA
// promoted for one theme (loop.per_theme) goes into that theme's prompts alone.
import { dirname } from 'node:path';
import { parseLoraSpec } from '../../adapters/a1111.js';
import type { Sql } from '../../src/stage.js';
import { promotedLoraRow, type PromotedLoraRow } from '../../schemas/tables.js';
import type { GenerateParams } from './backend.js';

/** The promoted LoRAs, oldest first; none before the first promotion (no table yet). */
export async function readPromoted(sql: Sql): Promise<PromotedLoraRow[]> {
  const found = await sql(`SELECT 1 FROM information_schema.tables WHERE table_name = 'promoted_loras' AND table_schema = 'main'`);
  if (!found.length) return [];
  const rows = await sql('SELECT * FROM promoted_loras ORDER BY round, name');
  // A state from before loop.per_theme has no theme column: every LoRA there is for every prompt.
  return rows.map((r) => promotedLoraRow.parse({ ...r, round: Number(r.round), weight: Number(r.weight), theme: r.theme ?? null }));
}

const specOf = (p: PromotedLoraRow) => `${p.name}:${p.weight}`;

/**
 * generate's params with the promoted LoRAs in the prompts they are for (at their
 * promoted weight, in place of a spec the user wrote for the same name) and their
 * folders searched: every prompt for a LoRA without a theme, its theme's prompts
 * (generate.theme_loras) for one promoted per theme.
 */
export function withPromoted(g: GenerateParams, promoted: PromotedLoraRow[]): GenerateParams {
  if (!promoted.length) return g;
  const names = new Set(promoted.map((p) => p.name));
  const own = (specs: string[]) => specs.filter((spec) => !names.has(parseLoraSpec(spec).name));
  const themeLoras: Record<string, string[]> = Object.fromEntries(Object.entries(g.theme_loras).map(([theme, specs]) => [theme, own(specs)]));
  for (const p of promoted.filter((x) => x.theme !== null)) themeLoras[p.theme!] = [...(themeLoras[p.theme!] ?? []), specOf(p)];
  const dirs = [...new Set([...g.lora_dirs, ...promoted.map((p) => dirname(p.path))])];
  const everywhere = promoted.filter((p) => p.theme === null).map(specOf);
  return { ...g, loras: [...own(g.loras), ...everywhere], theme_loras: themeLoras, lora_dirs: dirs };
}

/**
 * What the promoted set adds to a stage's resources: names, weights and content hashes.
 * With `everyPrompt`, only the LoRAs every prompt carries: a theme's LoRA is in its own
 * prompts' requests (so in those items' identities), and promoting it must not touch the
 * other themes' images.
 */
export function promotedResource(promoted: PromotedLoraRow[], everyPrompt = false): Record<string, string> {
  const shared = everyPrompt ? promoted.filter((p) => p.theme === null) : promoted;
  return shared.length ? { promoted_loras: shared.map((p) => `${p.name}:${p.weight}:${p.hash}${p.theme === null ? '' : `:${p.theme}`}`).join(',') } : {};
}
