// The variation_values table: every (axis, key) the axes of both origins know, with the
// text it renders and whether the key is sdgen's inline MD5, so everything a person reads
// can show "light fog" where the tables hold `f1fb4c14`.
import type { AxisAlternativesRow, VariationValueRow } from '../../schemas/tables.js';
import { isInlineKeyOf } from '../resolve/templates/imports.js';

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** One row per axis and key, sorted; where sources disagree on a key's text, the first set (by id) wins. */
export function variationValues(axes: AxisAlternativesRow[]): VariationValueRow[] {
  const rows = new Map<string, VariationValueRow>();
  for (const set of [...axes].sort((a, b) => compare(a.alternatives, b.alternatives))) {
    set.keys.forEach((key, i) => {
      const id = `${set.axis}\u0000${key}`;
      const text = set.texts[i] ?? key;
      if (!rows.has(id)) rows.set(id, { axis: set.axis, key, text, inline: isInlineKeyOf(key, text) });
    });
  }
  return [...rows.values()].sort((a, b) => compare(a.axis, b.axis) || compare(a.key, b.key));
}
