// The fully resolved template text -> axes (one per placeholder name) and render slots.
import type { VariationValue } from '../../../schemas/templates.js';
import { InputError, type InputErrorWhere } from '../../../src/errors.js';
import type { VariationSource } from './imports.js';
import { parseSelector, SelectorError, type Selector } from './selectors.js';

const PLACEHOLDER = /\{([\p{L}\p{N}_]+)(?::([\p{L}\p{N}_]+))?(?:\[([^\]]*)\])?(?::([\p{L}\p{N}_]+))?\}/gu;

/** One placeholder name: every occurrence renders the same chosen value. */
export interface Axis {
  name: string;
  /** the last occurrence's selector counts */
  selector: Selector;
  written: string;
}

/** A text split around its placeholders: literals[0] slot[0] literals[1] ... */
export interface Compiled {
  literals: string[];
  slots: { axis: number; part: string | null }[];
}

export interface ParsedTexts {
  axes: Axis[];
  texts: Compiled[];
}

/** Where a placeholder was written, for messages: the first file read whose text holds it. */
export type Locate = (written: string) => InputErrorWhere;

export function parsePlaceholders(texts: string[], locate: Locate): ParsedTexts {
  const axes: Axis[] = [];
  const byName = new Map<string, number>();
  const compiled = texts.map((text) => {
    const out: Compiled = { literals: [], slots: [] };
    let last = 0;
    for (const m of text.matchAll(PLACEHOLDER)) {
      let selector: Selector;
      try {
        selector = parseSelector(m[3] ?? '');
      } catch (error) {
        if (!(error instanceof SelectorError)) throw error;
        throw new InputError(`placeholder ${m[0]}: ${error.message}`, { ...locate(m[0]), field: m[1] });
      }
      const name = m[1]!;
      let axis = byName.get(name);
      if (axis === undefined) {
        axis = axes.length;
        byName.set(name, axis);
        axes.push({ name, selector, written: m[0] });
      } else axes[axis] = { name, selector, written: m[0] };
      out.literals.push(text.slice(last, m.index));
      out.slots.push({ axis, part: m[2] ?? m[4] ?? null });
      last = m.index + m[0].length;
    }
    out.literals.push(text.slice(last));
    return out;
  });
  return { axes, texts: compiled };
}

/** The text a value renders: a plain value, a named part ("" if missing), or `main`/the alphabetically first part. */
export function renderValue(value: VariationValue, part: string | null): string | null {
  if (typeof value === 'string') return part === null ? value : null;
  if (part !== null) return value[part] ?? '';
  if ('main' in value) return value.main!;
  const first = Object.keys(value).sort()[0];
  return first === undefined ? '' : value[first]!;
}

/** Per slot, the text of every value of its axis (null source: a removed placeholder, renders ""). */
export function renderTables(compiled: Compiled, sources: (VariationSource | null)[], selected: number[][], axes: Axis[], locate: Locate): string[][] {
  return compiled.slots.map(({ axis, part }) => {
    const source = sources[axis];
    if (!source) return [''];
    return source.values.map((value, i) => {
      const text = renderValue(value, part);
      if (text === null) {
        if (!selected[axis]!.includes(i)) return '';
        throw new InputError(`{${axes[axis]!.name}:${part}}: value ${source.keys[i]} is plain text, not a multipart value, so it has no part "${part}"`, { ...locate(`:${part}`), field: axes[axis]!.name });
      }
      return text;
    });
  });
}

export function render(compiled: Compiled, tables: string[][], choice: Int32Array): string {
  let s = compiled.literals[0]!;
  for (let j = 0; j < compiled.slots.length; j++) s += tables[j]![choice[compiled.slots[j]!.axis]!]! + compiled.literals[j + 1]!;
  return s;
}
