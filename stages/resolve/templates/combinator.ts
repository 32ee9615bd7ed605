// Which value each axis takes in each planned image, and with which seed: combinatorial
// (Cartesian product, lowest weight outermost) or random (unique draws), seed sweeps.
import { InputError } from '../../../src/errors.js';
import { Rng } from './prng.js';

export interface GenerationSpec {
  mode: 'combinatorial' | 'random';
  seedMode: 'fixed' | 'progressive' | 'random';
  baseSeed: number;
  maxImages: number;
  /** per axis, the value indexes its selector kept (a removed axis: [0]) */
  selected: number[][];
  /** axis indexes that are enumerated, in loop order (outermost first) */
  enumerated: number[];
  /** axis indexes drawn once per image (weight <= 0) */
  drawn: number[];
  sweep: number[] | null;
  /** 0 = no cap */
  count: number;
  /** true when the template has no placeholder at all: exactly one prompt with the seed as given */
  noPlaceholders: boolean;
}

export interface PlannedImage {
  choice: Int32Array;
  seed: number;
}

/** A plan beyond this many rows is a mistake (a missing max_images), not a job to start. */
export const MAX_PLANNED = 10_000_000;

/** Purposes that keep independent draws apart. */
const DRAW = 1;
const SEED = 2;
const COMBO = 3;

export function totalCombinations(spec: GenerationSpec, axes: number[]): number {
  return axes.reduce((n, a) => n * spec.selected[a]!.length, 1);
}

function seedOf(spec: GenerationSpec, i: number): number {
  if (spec.noPlaceholders || spec.seedMode === 'fixed') return spec.baseSeed;
  if (spec.seedMode === 'progressive') return spec.baseSeed + i;
  return new Rng(spec.baseSeed, SEED, i).next();
}

function drawRest(spec: GenerationSpec, choice: Int32Array, i: number): void {
  if (spec.drawn.length === 0) return;
  const rng = new Rng(spec.baseSeed, DRAW, i);
  for (const a of spec.drawn) {
    const values = spec.selected[a]!;
    choice[a] = values[rng.below(values.length)]!;
  }
}

function decode(spec: GenerationSpec, axes: number[], combo: number, choice: Int32Array): void {
  for (let k = axes.length - 1; k >= 0; k--) {
    const values = spec.selected[axes[k]!]!;
    choice[axes[k]!] = values[combo % values.length]!;
    combo = Math.floor(combo / values.length);
  }
}

function cap(spec: GenerationSpec, n: number): number {
  return spec.count > 0 ? Math.min(n, spec.count) : n;
}

function* combinatorial(spec: GenerationSpec): Generator<PlannedImage> {
  const total = totalCombinations(spec, spec.enumerated);
  const perCombo = spec.sweep ? spec.sweep.length : 1;
  let n = total * perCombo;
  if (spec.maxImages > 0) n = Math.min(n, spec.maxImages);
  n = cap(spec, n);
  if (n > MAX_PLANNED) {
    throw new InputError(`${total} combinations${spec.sweep ? ` x ${perCombo} seeds` : ''} is more than ${MAX_PLANNED} images; set generation.max_images or the count cap (resolve.count / --count)`, { field: 'generation.max_images' });
  }
  for (let i = 0; i < n; i++) {
    const choice = new Int32Array(spec.selected.length);
    decode(spec, spec.enumerated, Math.floor(i / perCombo), choice);
    drawRest(spec, choice, i);
    yield { choice, seed: spec.sweep ? spec.sweep[i % perCombo]! : seedOf(spec, i) };
  }
}

/** k distinct combination numbers of [0, space), in draw order. */
function uniqueCombos(spec: GenerationSpec, axes: number[], space: number, k: number): number[] {
  const rng = new Rng(spec.baseSeed, COMBO);
  if (k * 2 >= space) {
    const all = Array.from({ length: space }, (_, i) => i);
    for (let i = 0; i < k; i++) {
      const j = i + rng.below(space - i);
      [all[i], all[j]] = [all[j]!, all[i]!];
    }
    return all.slice(0, k);
  }
  const seen = new Set<number>();
  const out: number[] = [];
  while (out.length < k) {
    let combo = 0;
    for (const a of axes) combo = combo * spec.selected[a]!.length + rng.below(spec.selected[a]!.length);
    if (!seen.has(combo)) {
      seen.add(combo);
      out.push(combo);
    }
  }
  return out;
}

function* random(spec: GenerationSpec): Generator<PlannedImage> {
  if (spec.maxImages <= 0) {
    throw new InputError('random mode needs generation.max_images > 0 (it draws that many unique combinations)', { field: 'generation.max_images' });
  }
  const axes = spec.selected.map((_, a) => a);
  const space = totalCombinations(spec, axes);
  if (!Number.isSafeInteger(space)) throw new InputError(`random mode: ${space} combinations is too many to draw uniquely`);
  const seeds = spec.sweep;
  const k = Math.min(space, seeds ? Math.ceil(spec.maxImages / seeds.length) : spec.maxImages);
  const n = cap(spec, k * (seeds ? seeds.length : 1));
  const combos = uniqueCombos(spec, axes, space, k);
  for (let i = 0; i < n; i++) {
    const choice = new Int32Array(spec.selected.length);
    const perCombo = seeds ? seeds.length : 1;
    decode(spec, axes, combos[Math.floor(i / perCombo)]!, choice);
    yield { choice, seed: seeds ? seeds[i % perCombo]! : seedOf(spec, i) };
  }
}

export function planImages(spec: GenerationSpec): Generator<PlannedImage> {
  return spec.mode === 'random' ? random(spec) : combinatorial(spec);
}
