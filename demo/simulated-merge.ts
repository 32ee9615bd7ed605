// DEMO PART: the simulated merge, `loop.promote: merge` with the simulated trainer. It
// folds nothing into real weights (there are none); it writes a real .safetensors
// checkpoint whose metadata lists every LoRA folded in so far, each with the ratio and
// the training metadata the synthetic backend reads a LoRA's effect from. Rendering
// with it (generate.model) is then exactly rendering with those LoRAs in the prompt at
// those weights, which is what merging a LoRA at a ratio means.
import { createHash } from 'node:crypto';
import { readSafetensorsHeader, writeSafetensors } from '../adapters/safetensors.js';

/** The metadata key listing the folded LoRAs: JSON [{name, ratio, metadata}]. */
export const FOLDED_KEY = 'sdloop_merged_loras';

export interface FoldedLora {
  name: string;
  ratio: number;
  /** the LoRA's own safetensors metadata (ss_tag_frequency, ss_epoch, ...) */
  metadata: Record<string, string>;
}

export function foldedLorasOf(metadata: Record<string, string>): FoldedLora[] {
  if (!metadata[FOLDED_KEY]) return [];
  const parsed = JSON.parse(metadata[FOLDED_KEY]) as FoldedLora[];
  return Array.isArray(parsed) ? parsed : [];
}

export interface SimulatedMergeOptions {
  /** the checkpoint merged into: an earlier simulated merge, or null for the synthetic base */
  base: string | null;
  lora: { name: string; path: string; ratio: number };
  saveTo: string;
}

/** Writes the merged checkpoint; same inputs, same bytes. */
export async function writeSimulatedMerge(o: SimulatedMergeOptions): Promise<void> {
  const before = o.base ? foldedLorasOf((await readSafetensorsHeader(o.base)).metadata) : [];
  const { metadata } = await readSafetensorsHeader(o.lora.path);
  const folded: FoldedLora[] = [...before, { name: o.lora.name, ratio: o.lora.ratio, metadata }];
  // One small tensor that differs with what was folded in, so two merges are two files.
  const digest = createHash('sha256').update(JSON.stringify(folded)).digest();
  const data = Float32Array.from(digest.subarray(0, 16), (b) => b / 255);
  await writeSafetensors(o.saveTo, { 'sdloop_demo.weight': { dtype: 'F32', shape: [4, 4], data } }, {
    [FOLDED_KEY]: JSON.stringify(folded),
    'modelspec.title': o.lora.name,
    'modelspec.merged_from': folded.map((f) => f.name).join(', '),
    sdloop_demo: 'true',
    sdloop_note: 'DEMO: written by the simulated merge, not merged; only the synthetic backend gives it an effect',
  });
}
