// The alternatives of an axis (every key of its source and the text each renders) live
// once in table `axes`; a prompt row's variation names them by id. Resolve and ingest
// write them, catalog unions them, score, classify and the commands read them here.
import { hashValue } from '../../src/hash.js';
import type { AxisAlternativesRow, PromptRow } from '../../schemas/tables.js';
import type { InputArtifact } from '../../src/stage.js';

/** The `axes` row of one axis' values; its id is their hash, so identical sets are one row. */
export function axisAlternatives(axis: string, keys: string[], texts: string[]): AxisAlternativesRow {
  return { alternatives: hashValue([axis, keys, texts]), axis, keys, texts };
}

/** Rows once per id, in first-seen order. */
export function distinctAlternatives(rows: Iterable<AxisAlternativesRow>): AxisAlternativesRow[] {
  const byId = new Map<string, AxisAlternativesRow>();
  for (const row of rows) if (!byId.has(row.alternatives)) byId.set(row.alternatives, row);
  return [...byId.values()];
}

/** The key a prompt asked for, with the keys and texts it is compared against. */
export interface Alternatives {
  key: string;
  keys: string[];
  texts: string[];
}

export type AlternativesIndex = Map<string, AxisAlternativesRow>;

export function indexAlternatives(rows: AxisAlternativesRow[]): AlternativesIndex {
  return new Map(rows.map((r) => [r.alternatives, r]));
}

/** Axis -> what the prompt asked for and its alternatives; an id the index lacks is a broken table, named. */
export function alternativesOf(prompt: Pick<PromptRow, 'prompt_id' | 'variations'>, index: AlternativesIndex): Record<string, Alternatives> {
  const out: Record<string, Alternatives> = {};
  for (const [axis, v] of Object.entries(prompt.variations)) {
    const set = index.get(v.alternatives);
    if (!set) throw new Error(`prompt ${prompt.prompt_id}, axis ${axis}: alternatives ${v.alternatives} are not in table axes`);
    out[axis] = { key: v.key, keys: set.keys, texts: set.texts };
  }
  return out;
}

// Read once per table artifact: a map stage asks again for every batch's identities.
const read = new WeakMap<object, Promise<AlternativesIndex>>();

/** The alternatives of input `name` (an `axes` table), indexed by id; none when the stage has no such input. */
export function readAlternatives(inputs: Record<string, InputArtifact>, name = 'axes'): Promise<AlternativesIndex> {
  const input = inputs[name];
  if (!input) return Promise.resolve(new Map());
  if (input.kind !== 'table') throw new Error(`input ${name} must be the axes table`);
  let index = read.get(input);
  if (!index) read.set(input, (index = input.rows<AxisAlternativesRow>().then(indexAlternatives)));
  return index;
}
