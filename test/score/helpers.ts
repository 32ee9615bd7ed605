// Synthetic images and their prompts for the score tests: three axes, values cycling per prompt.
import { readFileSync } from 'node:fs';
import { hashBytes } from '../../src/hash.js';
import { makeTestContext } from '../../src/testing.js';
import type { AxisAlternativesRow, ImageRow, PromptRow } from '../../schemas/tables.js';
import { axisAlternatives, indexAlternatives } from '../../stages/resolve/alternatives.js';
import { renderSynthetic } from '../../demo/synthetic.js';

export const axes: Record<string, [string, string][]> = {
  HairColor: [['neon_blue', 'neon blue hair'], ['red', 'red hair'], ['blonde', 'blonde hair'], ['black', 'black hair']],
  Outfit: [['gala_dress', 'gala dress'], ['jeans', 'denim jeans and t-shirt'], ['armor', 'knight armor']],
  Place: [['beach', 'sunny beach'], ['city', 'city street at night'], ['forest', 'dark forest']],
};

/** The axes table rows of a world: one alternatives set per axis. */
export function axesRows(world: Record<string, [string, string][]> = axes): AxisAlternativesRow[] {
  return Object.entries(world).map(([axis, values]) => axisAlternatives(axis, values.map((v) => v[0]), values.map((v) => v[1])));
}

export const alternativesIndex = (world: Record<string, [string, string][]> = axes) => indexAlternatives(axesRows(world));

export function promptRow(i: number, world: Record<string, [string, string][]> = axes): PromptRow {
  const variations: PromptRow['variations'] = {};
  const sets = axesRows(world);
  for (const [a, [axis, values]] of Object.entries(world).entries()) {
    const [key, text] = values[(i * (axis.length + 1)) % values.length];
    variations[axis] = { key, value: text, text, alternatives: sets[a]!.alternatives };
  }
  const prompt = Object.values(variations).map((v) => v.value).join(', ');
  return {
    prompt_id: `p${i}`, source: 'prompts/test.yaml', session: 's', theme: null, style: null, idx: i, prompt, api_prompt: prompt,
    negative_prompt: '', seed: 1000 + i, variations, params: { width: 512, height: 768 }, manifest: {}, manifest_variations: '',
  };
}

export async function generate(dir: string, prompts: PromptRow[], failureRate: number, world: Record<string, [string, string][]> = axes) {
  const ctx = makeTestContext({ dir, params: {} });
  const images: ImageRow[] = [];
  const index = alternativesIndex(world);
  for (const p of prompts) {
    const r = await renderSynthetic(p, { failureRate, valueFailureRates: {}, blankRate: 0, lora: async () => { throw new Error('no lora'); }, alternatives: (id) => index.get(id) });
    const stored = await ctx.store.put(r.png, 'png');
    images.push({
      image_id: stored.hash, prompt_id: p.prompt_id, path: stored.path, seed: r.seed, width: r.width, height: r.height,
      backend: 'synthetic', endpoint: '', model_name: 'demo', model_hash: '', loras: [], gen_ms: 0, status: 'ok', error: null,
      rendered: r.rendered, session_dir: '', filename: '',
    });
  }
  return images;
}

/** Ground truth for the vision stand-in: the value texts each picture shows, by its PNG's content. */
export function truthTable(images: ImageRow[], prompts: PromptRow[], index = alternativesIndex()): Map<string, string[]> {
  return new Map(images.map((im) => {
    const prompt = prompts.find((p) => p.prompt_id === im.prompt_id)!;
    const shown = Object.entries(im.rendered!).map(([axis, key]) => {
      const set = index.get(prompt.variations[axis].alternatives)!;
      return set.texts[set.keys.indexOf(key)];
    });
    return [hashBytes(readFileSync(im.path)), shown];
  }));
}
