// Planned prompt rows as resolve writes them, for generate's tests and benchmark.
import type { PromptRow } from '../../schemas/tables.js';
import { axisAlternatives, indexAlternatives } from '../../stages/resolve/alternatives.js';

const hair = axisAlternatives('HairColor', ['NeonBlue', 'Crimson', 'Silver'], ['neon blue hair', 'crimson hair', 'silver hair']);
const outfit = axisAlternatives('Outfit', ['Casual', 'Formal'], ['casual clothes', 'formal suit']);

/** The axes table of these rows, and the lookup a backend or stage reads it through. */
export const axesRows = [hair, outfit];
export const alternatives = indexAlternatives(axesRows);
export const lookup = (id: string) => alternatives.get(id);

export function promptRow(i: number, overrides: Partial<PromptRow> = {}): PromptRow {
  const h = i % 3;
  const o = i % 2;
  return {
    prompt_id: `p${String(i).padStart(5, '0')}`,
    source: 'data/prompts/demo.prompt.yaml',
    session: 'demo',
    theme: null,
    style: null,
    idx: i,
    prompt: `masterpiece, ${hair.texts[h]}, ${outfit.texts[o]}`,
    api_prompt: `masterpiece, ${hair.texts[h]}, ${outfit.texts[o]}`,
    negative_prompt: 'lowres, bad hands',
    seed: 1000 + i,
    variations: {
      HairColor: { key: hair.keys[h]!, value: hair.texts[h], text: hair.texts[h]!, alternatives: hair.alternatives },
      Outfit: { key: outfit.keys[o]!, value: outfit.texts[o], text: outfit.texts[o]!, alternatives: outfit.alternatives },
    },
    params: { width: 64, height: 96, steps: 20, cfg_scale: 7, sampler: 'DPM++ 2M', scheduler: 'Karras' },
    manifest_variations: '',
    manifest: { resolved_template: { prompt: 'masterpiece, {HairColor}, {Outfit}', negative: 'lowres, bad hands' }, generation_params: { mode: 'combinatorial', seed_mode: 'progressive', base_seed: 1000, num_images: 6, total_combinations: 6 } },
    ...overrides,
  };
}

export const promptRows = (n: number) => Array.from({ length: n }, (_, i) => promptRow(i));
