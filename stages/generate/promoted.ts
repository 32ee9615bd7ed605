// The promoted LoRAs are project state, not a loop-only override: the state table
// `promoted_loras` (written by `pipeline loop`, undone by `pipeline promoted --drop`) is
// read by generate and by benchmark's baseline on every run, so a plain `pipeline run`
// renders with the same LoRAs the loop judged against, and `pipeline status` after a
// loop says what a run would do rather than what the loop's overrides did. A LoRA
// promoted for one theme (loop.per_theme) goes into that theme's prompts alone. So is the
// last checkpoint `loop.promote: merge` made (state table merged_checkpoints): generate
// pins it (generate.model) on every run, and a round's baseline renders with it.
import { dirname } from 'node:path';
import { parseLoraSpec } from '../../adapters/a1111.js';
import type { Sql } from '../../src/stage.js';
import { mergedCheckpointRow, promotedLoraRow, type MergedCheckpointRow, type PromotedLoraRow } from '../../schemas/tables.js';
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

/** The checkpoint the last merge made, or null (none yet, no table). */
export async function readMerged(sql: Sql): Promise<MergedCheckpointRow | null> {
  const found = await sql(`SELECT 1 FROM information_schema.tables WHERE table_name = 'merged_checkpoints' AND table_schema = 'main'`);
  if (!found.length) return null;
  const [last] = await sql('SELECT * FROM merged_checkpoints ORDER BY round DESC LIMIT 1');
  return last ? mergedCheckpointRow.parse({ ...last, round: Number(last.round), ratio: Number(last.ratio) }) : null;
}

/**
 * generate's params pinned to the merged checkpoint: A1111 knows it by its file stem
 * (the WebUI's model_name), which override_settings.sd_model_checkpoint selects and
 * the server check confirms in /sdapi/v1/sd-models before anything renders; the
 * synthetic backend finds the file in its folder (generate.checkpoint_dirs).
 */
export function withMerged(g: GenerateParams, merged: MergedCheckpointRow | null): GenerateParams {
  return merged ? { ...g, model: merged.name, checkpoint_dirs: [...new Set([dirname(merged.path), ...g.checkpoint_dirs])] } : g;
}

/** What the merged checkpoint adds to a stage's resources: every image changes with it. */
export function mergedResource(merged: MergedCheckpointRow | null): Record<string, string> {
  return merged ? { merged_checkpoint: `${merged.name}:${merged.hash}` } : {};
}
