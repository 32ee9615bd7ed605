// The promoted LoRAs are project state, not a loop-only override: the state table
// `promoted_loras` (written by `pipeline loop`, undone by `pipeline promoted --drop`) is
// read by generate and by benchmark's baseline on every run, so a plain `pipeline run`
// renders with the same LoRAs the loop judged against, and `pipeline status` after a
// loop says what a run would do rather than what the loop's overrides did.
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
  return rows.map((r) => promotedLoraRow.parse({ ...r, round: Number(r.round), weight: Number(r.weight) }));
}

/**
 * generate's params with the promoted LoRAs in every prompt (at their promoted weight, in
 * place of a spec the user wrote for the same name) and their folders searched.
 */
export function withPromoted(g: GenerateParams, promoted: PromotedLoraRow[]): GenerateParams {
  if (!promoted.length) return g;
  const names = new Set(promoted.map((p) => p.name));
  const own = g.loras.filter((spec) => !names.has(parseLoraSpec(spec).name));
  const dirs = [...new Set([...g.lora_dirs, ...promoted.map((p) => dirname(p.path))])];
  return { ...g, loras: [...own, ...promoted.map((p) => `${p.name}:${p.weight}`)], lora_dirs: dirs };
}

/** What the promoted set adds to a stage's resources: names, weights and content hashes. */
export function promotedResource(promoted: PromotedLoraRow[]): Record<string, string> {
  return promoted.length ? { promoted_loras: promoted.map((p) => `${p.name}:${p.weight}:${p.hash}`).join(',') } : {};
}
