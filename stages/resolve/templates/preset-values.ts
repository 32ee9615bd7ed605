// Per image, the values the presets take: an ADetailer prompt's `{Expression}` renders
// what the image's own prompt chose (no new combinations, as in sdgen), and a ControlNet
// `image: {Pose}` takes the image file of the image's Pose, or, when the prompt does not
// use Pose, one drawn per image from the base seed and the image's index (sdgen drew it with Python's random).
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { ImportValue } from '../../../schemas/templates.js';
import type { ParsedTexts } from './compile.js';
import { renderValue } from './compile.js';
import { isVariationImport, loadSource, type VariationSource } from './imports.js';
import type { Declared, ResolvedPrompt } from './inherit.js';
import type { TemplateLoader } from './loader.js';
import { hash32, Rng } from './prng.js';
import { presetsForManifest, scriptsFor, type ImageValues, type Presets } from './presets.js';
import { errorAt } from '../../../src/yaml-file.js';

export interface PresetBinding {
  presets: Presets;
  /** parameters for one image: `adetailer`/`controlnet` replaced by `alwayson_scripts` */
  paramsFor(choice: Int32Array, idx: number): Record<string, unknown>;
  /** api_params as sdgen's manifest records them */
  manifestParams: Record<string, unknown>;
}

interface Context {
  loader: TemplateLoader;
  resolved: ResolvedPrompt;
  parsed: ParsedTexts;
  sources: (VariationSource | null)[];
  imports: Map<string, Declared<ImportValue>>;
  baseSeed: number;
}

/** Image paths in a variations file: near that file, else near the entry prompt (the paths rule). */
function imagePath(value: string, source: VariationSource, loader: TemplateLoader): string {
  if (isAbsolute(value)) return value;
  const places = [...source.files.map((f) => resolve(dirname(f), value)), resolve(loader.entryDir, value)];
  return places.find((p) => existsSync(p)) ?? places[places.length - 1]!;
}

/** Presets may only name placeholders the prompt has, or (images) imports it declares. */
function checkNames(ctx: Context, presets: Presets, axisOf: Map<string, number>): Map<string, VariationSource> {
  const extra = new Map<string, VariationSource>();
  const images = new Set(presets.units.flatMap((u) => (u.image?.kind === 'variation' ? [u.image.name] : [])));
  for (const name of presets.placeholders) {
    if (axisOf.has(name)) continue;
    const decl = ctx.imports.get(name);
    if (images.has(name) && decl && isVariationImport(decl.value)) {
      extra.set(name, loadSource(ctx.loader, name, decl));
      continue;
    }
    const key = images.has(name) ? 'controlnet' : 'adetailer';
    const file = ctx.resolved.parameterFiles.get(key)!;
    const what = images.has(name) ? 'an import of image files' : 'a placeholder of the prompt itself';
    throw errorAt(file, ['parameters', key], `{${name}} in parameters.${key} is not ${what}; presets take the values the prompt chose for its own placeholders`);
  }
  return extra;
}

export function bindPresets(ctx: Context, presets: Presets | null): PresetBinding | null {
  if (!presets) return null;
  const axisOf = new Map(ctx.parsed.axes.map((a, i) => [a.name, i]));
  const extra = checkNames(ctx, presets, axisOf);
  const { adetailer: _a, controlnet: _c, ...rest } = ctx.resolved.parameters;
  const scriptsBefore = (rest.alwayson_scripts as Record<string, unknown> | undefined) ?? {};
  const valuesOf = (choice: Int32Array, idx: number): ImageValues => ({
    text(name, part) {
      const a = axisOf.get(name)!;
      const source = ctx.sources[a];
      return source ? (renderValue(source.values[choice[a]!]!, part) ?? '') : '';
    },
    imageFile(name) {
      const a = axisOf.get(name);
      const source = a === undefined ? extra.get(name)! : ctx.sources[a]!;
      const k = a === undefined ? new Rng(ctx.baseSeed, idx, hash32(name)).below(source.keys.length) : choice[a]!;
      return imagePath(renderValue(source.values[k]!, null) ?? '', source, ctx.loader);
    },
  });
  return {
    presets,
    paramsFor: (choice, idx) => ({ ...rest, alwayson_scripts: { ...scriptsBefore, ...scriptsFor(presets, valuesOf(choice, idx)) } }),
    manifestParams: { ...ctx.resolved.parameters, ...presetsForManifest(presets) },
  };
}
