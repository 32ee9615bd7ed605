// DEMO PART: what a LoRA means to the synthetic backend. It reads the kohya metadata of
// the .safetensors (ss_tag_frequency: {dir: {tag: count}}) and says how strongly each tag
// was trained: the square root of its count relative to the most frequent tag, so a value
// that appears in a fifth of the captions still gets ~0.45 of the full effect. A file
// saved at an earlier epoch (ss_epoch of ss_num_epochs) has learnt that share of it.
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { a1111LoraShortHash, findLoraFile, readSafetensorsHeader } from '../adapters/safetensors.js';
import { hashFile } from '../src/hash.js';
import { foldedLorasOf } from './simulated-merge.js';

export interface SyntheticLora {
  name: string;
  path: string;
  /** what A1111 writes in `Lora hashes`: the first 12 hex of sshs_model_hash */
  shortHash: string;
  /** 0..1: how much training this value saw (mean over the comma-separated parts of its text) */
  strengthOf(key: string, text: string): number;
  /** 0..1: the share of renders at weight 1 that collapse to one picture per prompt (sdloop_collapse) */
  collapse: number;
}

export function normaliseTag(tag: string): string {
  return tag.trim().toLowerCase().replace(/\s+/g, ' ');
}

/** Tag counts summed over the dataset folders. */
export function tagCounts(metadata: Record<string, string>): Map<string, number> {
  const counts = new Map<string, number>();
  if (!metadata.ss_tag_frequency) return counts;
  let frequency: Record<string, Record<string, number>>;
  try {
    frequency = JSON.parse(metadata.ss_tag_frequency);
  } catch {
    return counts;
  }
  for (const tags of Object.values(frequency ?? {})) {
    for (const [tag, count] of Object.entries(tags ?? {})) {
      const t = normaliseTag(tag);
      counts.set(t, (counts.get(t) ?? 0) + Number(count || 0));
    }
  }
  return counts;
}

/** ss_epoch / ss_num_epochs, 1 when either is missing (a file from another trainer). */
function trainedShare(metadata: Record<string, string>): number {
  const share = Number(metadata.ss_epoch) / Number(metadata.ss_num_epochs);
  return Number.isFinite(share) && share > 0 ? Math.min(1, share) : 1;
}

export function loraFromMetadata(name: string, path: string, shortHash: string, metadata: Record<string, string>): SyntheticLora {
  const counts = tagCounts(metadata);
  const max = Math.max(0, ...counts.values());
  const trained = trainedShare(metadata);
  const strength = (tag: string) => (max > 0 ? trained * Math.sqrt((counts.get(normaliseTag(tag)) ?? 0) / max) : 0);
  const collapse = Number(metadata.sdloop_collapse ?? 0);
  return {
    name,
    path,
    shortHash,
    collapse: Number.isFinite(collapse) ? Math.min(1, Math.max(0, collapse)) : 0,
    strengthOf(key, text) {
      const parts = text.split(',').map((p) => p.trim()).filter(Boolean);
      const byText = parts.length ? parts.reduce((sum, p) => sum + strength(p), 0) / parts.length : 0;
      return Math.max(byText, strength(key));
    },
  };
}

export async function loadSyntheticLora(name: string, dirs: string[]): Promise<SyntheticLora> {
  const path = await findLoraFile(name, dirs);
  const { metadata } = await readSafetensorsHeader(path);
  const shortHash = await a1111LoraShortHash(path);
  return loraFromMetadata(name, path, shortHash, metadata);
}

/** One load per name for the life of a backend. */
export function loraLoader(dirs: string[]): (name: string) => Promise<SyntheticLora> {
  const cache = new Map<string, Promise<SyntheticLora>>();
  return (name) => {
    let lora = cache.get(name);
    if (!lora) {
      lora = loadSyntheticLora(name, dirs);
      cache.set(name, lora);
      lora.catch(() => cache.delete(name));
    }
    return lora;
  };
}

/** A checkpoint to the synthetic backend: the LoRAs a simulated merge folded into it, at their ratios. */
export interface SyntheticCheckpoint {
  name: string;
  /** the first 10 hex of its content hash: what its renders' `Model hash` says */
  shortHash: string;
  folded: { lora: SyntheticLora; weight: number }[];
}

/** NAME.safetensors from the folders (generate.checkpoint_dirs), in order; an error naming every place tried. */
export async function loadSyntheticCheckpoint(name: string, dirs: string[]): Promise<SyntheticCheckpoint> {
  const tried = dirs.map((d) => join(d, `${name}.safetensors`));
  const found = await Promise.all(tried.map((p) => access(p).then(() => true, () => false)));
  const path = tried[found.indexOf(true)];
  if (!path) throw new Error(`checkpoint ${JSON.stringify(name)} (generate.model) not found for the synthetic backend: looked for ${tried.join(', ')} (generate.checkpoint_dirs)`);
  const { metadata } = await readSafetensorsHeader(path);
  const folded = foldedLorasOf(metadata).map((f) => ({
    lora: loraFromMetadata(f.name, path, (f.metadata.sshs_model_hash ?? '').slice(0, 12), f.metadata),
    weight: f.ratio,
  }));
  return { name, shortHash: (await hashFile(path)).slice(0, 10), folded };
}
