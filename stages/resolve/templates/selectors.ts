// `{Name[selector]}`: weights, index ranges and lists, key lists and random limits.
import type { Rng } from './prng.js';

export interface Selector {
  /** <= 0: not enumerated, drawn per image */
  weight: number;
  indexes?: number[];
  keys?: string[];
  limit?: number;
}

export class SelectorError extends Error {}

/** Per `;`-separated part, the first rule that matches (spec/templates.md, "Placeholders and selectors"). */
export function parseSelector(text: string): Selector {
  const selector: Selector = { weight: 1 };
  for (const raw of text.split(';')) {
    const part = raw.trim();
    if (part === '') continue;
    let m: RegExpExecArray | null;
    if ((m = /^\$(-?\d+)$/.exec(part))) selector.weight = Number(m[1]);
    else if ((m = /^#(\d+)\s*-\s*(\d+)$/.exec(part))) {
      const [a, b] = [Number(m[1]), Number(m[2])];
      selector.indexes = Array.from({ length: Math.max(0, b - a + 1) }, (_, i) => a + i);
    } else if (/^#\d+(\s*,\s*\d+)*$/.test(part)) selector.indexes = part.slice(1).split(',').map((s) => Number(s.trim()));
    else if ((m = /^(?:random:)?(\d+)$/.exec(part))) selector.limit = Number(m[1]);
    else if (part.includes(',') || /^\p{Lu}/u.test(part)) {
      selector.keys = part.split(',').map((s) => s.trim()).filter((s) => s !== '');
    } else {
      throw new SelectorError(`unknown selector text "${part}": expected $weight, #a-b, #i,j,k, N, random:N or a key list (Key1,Key2)`);
    }
  }
  return selector;
}

/** Indexes into the source that the selector keeps; only one of indexes / keys / limit applies. */
export function applySelector(selector: Selector, keys: readonly string[], rng: () => Rng): number[] {
  let chosen: number[];
  if (selector.indexes) chosen = selector.indexes.filter((i) => i >= 0 && i < keys.length);
  else if (selector.keys) {
    const at = new Map(keys.map((k, i) => [k, i]));
    chosen = selector.keys.map((k) => at.get(k)).filter((i): i is number => i !== undefined);
  } else if (selector.limit !== undefined && selector.limit < keys.length) {
    chosen = rng().sample(keys.length, selector.limit).sort((a, b) => a - b);
  } else chosen = keys.map((_, i) => i);
  if (chosen.length === 0) {
    throw new SelectorError(`selector keeps no value (available keys: ${keys.join(', ')})`);
  }
  return chosen;
}

/** What a selector names that the source lacks (dropped, per the spec): worth a warning, as it is usually a typo. */
export function unknownSelections(selector: Selector, keys: readonly string[]): string | null {
  if (selector.keys) {
    const known = new Set(keys);
    const unknown = selector.keys.filter((k) => !known.has(k));
    return unknown.length ? `unknown keys ${unknown.join(', ')} dropped (available keys: ${keys.join(', ')})` : null;
  }
  const outside = (selector.indexes ?? []).filter((i) => i < 0 || i >= keys.length);
  return outside.length ? `indexes ${outside.join(', ')} out of range 0-${keys.length - 1}, dropped` : null;
}
