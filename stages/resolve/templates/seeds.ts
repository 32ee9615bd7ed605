// The `seeds` and `fixed` params: seed sweeps and pinned placeholders.
import { InputError } from '../../../src/errors.js';

const INT = '-?\\d+';

/** `C#S` -> S..S+C-1; `a,b,c`; `a-b` inclusive (negatives allowed); a single integer. */
export function parseSeedSweep(spec: string, field = 'seeds'): number[] {
  const text = spec.trim();
  let m: RegExpExecArray | null;
  if ((m = new RegExp(`^(\\d+)#(${INT})$`).exec(text))) {
    const [count, start] = [Number(m[1]), Number(m[2])];
    if (count <= 0) throw new InputError(`seed sweep "${spec}": the count before # must be > 0`, { field });
    return Array.from({ length: count }, (_, i) => start + i);
  }
  if (text.includes(',')) {
    const items = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
    const bad = items.find((s) => !new RegExp(`^${INT}$`).test(s));
    if (bad !== undefined) throw new InputError(`seed sweep "${spec}": "${bad}" is not an integer; expected a,b,c`, { field });
    return items.map(Number);
  }
  if ((m = new RegExp(`^(${INT})-(${INT})$`).exec(text))) {
    const [a, b] = [Number(m[1]), Number(m[2])];
    if (a > b) throw new InputError(`seed sweep "${spec}": start ${a} is greater than end ${b}; expected a-b with a <= b`, { field });
    return Array.from({ length: b - a + 1 }, (_, i) => a + i);
  }
  if (new RegExp(`^${INT}$`).test(text)) return [Number(text)];
  throw new InputError(`seed sweep "${spec}": expected COUNT#START, a,b,c, a-b or one integer`, { field });
}

/** `Name:key|Name2:key2` -> Map name -> key (split on `|`, then on the first `:`, trimmed). */
export function parseFixed(spec: string, field = 'fixed'): Map<string, string> {
  const fixed = new Map<string, string>();
  for (const item of spec.split('|')) {
    if (item.trim() === '') continue;
    const colon = item.indexOf(':');
    if (colon < 0) throw new InputError(`fixed placeholder "${item.trim()}": expected Name:key`, { field });
    fixed.set(item.slice(0, colon).trim(), item.slice(colon + 1).trim());
  }
  return fixed;
}
