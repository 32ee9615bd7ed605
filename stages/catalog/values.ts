// The variation_values table: every (axis, key) the prompts of both origins know, with
// the text it renders and whether the key is sdgen's inline MD5, so everything a person
// reads can show "light drizzle" where the tables hold `f1fb4c14`.
import type { PromptRow, VariationValueRow } from '../../schemas/tables.js';
import { isInlineKeyOf } from '../resolve/templates/imports.js';

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** One row per axis and key, sorted; where prompt files disagree on a key's text, the first prompt (by id) wins. */
export function variationValues(prompts: PromptRow[]): VariationValueRow[] {
  const rows = new Map<string, VariationValueRow>();
  for (const prompt of [...prompts].sort((a, b) => compare(a.prompt_id, b.prompt_id))) {
    for (const [axis, chosen] of Object.entries(prompt.variations)) {
      chosen.keys.forEach((key, i) => {
        const id = `${axis}\u0000${key}`;
        const text = chosen.texts[i] ?? key;
        if (!rows.has(id)) rows.set(id, { axis, key, text, inline: isInlineKeyOf(key, text) });
      });
    }
  }
  return [...rows.values()].sort((a, b) => compare(a.axis, b.axis) || compare(a.key, b.key));
}
