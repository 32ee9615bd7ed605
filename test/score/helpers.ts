// Synthetic images and their prompts for the score tests: three axes, values cycling per prompt.
import { makeTestContext } from '../../src/testing.js';
import type { ImageRow, PromptRow } from '../../schemas/tables.js';
import { renderSynthetic } from '../../demo/synthetic.js';

export const axes: Record<string, [string, string][]> = {
  HairColor: [['neon_blue', 'neon blue hair'], ['red', 'red hair'], ['blonde', 'blonde hair'], ['black', 'black hair']],
  Outfit: [['gala_dress', 'gala dress'], ['jeans', 'denim jeans and t-shirt'], ['armor', 'knight armor']],
  Place: [['beach', 'sunny beach'], ['city', 'city street at night'], ['forest', 'dark forest']],
};

export function promptRow(i: number, world: Record<string, [string, string][]> = axes): PromptRow {
  const variations: PromptRow['variations'] = {};
  for (const [axis, values] of Object.entries(world)) {
    const [key, text] = values[(i * (axis.length + 1)) % values.length];
    variations[axis] = { key, value: text, keys: values.map((v) => v[0]), texts: values.map((v) => v[1]) };
  }
  const prompt = Object.values(variations).map((v) => v.value).join(', ');
  return {
    prompt_id: `p${i}`, source: 'prompts/test.yaml', session: 's', theme: null, style: null, idx: i, prompt, api_prompt: prompt,
    negative_prompt: '', seed: 1000 + i, variations, params: { width: 512, height: 768 }, manifest: {},
  };
}

export async function generate(dir: string, prompts: PromptRow[], failureRate: number) {
  const ctx = makeTestContext({ dir, params: {} });
  const images: ImageRow[] = [];
  for (const p of prompts) {
    const r = await renderSynthetic(p, { failureRate, valueFailureRates: {}, blankRate: 0, lora: async () => { throw new Error('no lora'); } });
    const stored = await ctx.store.put(r.png, 'png');
    images.push({
      image_id: stored.hash, prompt_id: p.prompt_id, path: stored.path, seed: r.seed, width: r.width, height: r.height,
      backend: 'synthetic', endpoint: '', model_name: 'demo', model_hash: '', loras: [], gen_ms: 0, status: 'ok', error: null,
      rendered: r.rendered, session_dir: '', filename: '',
    });
  }
  return images;
}
