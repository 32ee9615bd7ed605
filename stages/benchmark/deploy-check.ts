// Before an A1111 benchmark renders the candidate, the WebUI must know it: a LoRA the
// WebUI has not loaded is ignored in the prompt without an error, so the candidate arm
// would silently render as the baseline and the round would reject a LoRA it never
// tried. Confirmed on every endpoint, by name and by the tensor hash sd-scripts writes
// (sshs_model_hash), so an older file under the same name does not pass either.
import { listLoras, type ListedLora } from '../../adapters/a1111.js';
import { readSafetensorsHeader } from '../../adapters/safetensors.js';
import { StageFailure } from '../../src/errors.js';

const HOW = 'set train.deploy.lora_dir to the WebUI\'s models/Lora folder and train.deploy.url to its address, so train copies the LoRA there and asks the WebUI to refresh';

function problemWith(listed: ListedLora[], name: string, hash: string | undefined): string | null {
  const entry = listed.find((l) => l.name === name);
  if (!entry) return `does not list a LoRA named ${name}`;
  const theirs = entry.metadata.sshs_model_hash;
  if (hash && theirs !== hash) return `lists ${name} (${entry.path}) with hash ${String(theirs ?? 'none')}, not this round's ${hash}`;
  return null;
}

export async function confirmDeployed(stage: string, endpoints: string[], lora: { name: string; path: string }): Promise<void> {
  const { metadata } = await readSafetensorsHeader(lora.path);
  const hash = metadata.sshs_model_hash;
  for (const endpoint of endpoints) {
    const problem = problemWith(await listLoras(endpoint), lora.name, hash);
    if (problem) throw new StageFailure(stage, `the WebUI at ${endpoint} ${problem} (GET /sdapi/v1/loras): ${HOW}`);
  }
}
