// One entry prompt file -> the rows of table `prompts`: inheritance, theme, chunks,
// placeholders, selectors, combinations, seeds, normalisation.
import { dirname, relative, resolve } from 'node:path';
import type { ImportValue } from '../../../schemas/templates.js';
import type { AxisAlternativesRow, ManifestVariationsRow, PromptRow } from '../../../schemas/tables.js';
import { axisAlternatives, distinctAlternatives } from '../alternatives.js';
import { InputError } from '../../../src/errors.js';
import { hashBytes, hashValue, stableStringify } from '../../../src/hash.js';
import { chunkRegistry, expandChunks } from './chunks.js';
import { planImages, totalCombinations, type GenerationSpec } from './combinator.js';
import { parsePlaceholders, render, renderTables, renderValue, type Axis, type Locate, type ParsedTexts } from './compile.js';
import { isVariationImport, loadSource, type VariationSource } from './imports.js';
import { resolveInheritance, type Declared, type ResolvedPrompt } from './inherit.js';
import { TemplateLoader } from './loader.js';
import { flattenForApi, normalisePrompt } from './normalise.js';
import { hash32, Rng } from './prng.js';
import { parseFixed, parseSeedSweep } from './seeds.js';
import { applySelector, SelectorError, unknownSelections } from './selectors.js';
import { applyTheme, type AppliedTheme } from './themes.js';
import { loadPresets } from './presets.js';
import { samplerWarning } from './older-forms.js';
import { withAnswers, type Answers, type AnsweredPrompt } from './ask.js';
import { bindPresets, type PresetBinding } from './preset-values.js';
import { errorAt } from '../../../src/yaml-file.js';

export interface PlanOptions {
  /** `source` is written relative to this folder */
  projectDir: string;
  theme?: string | null;
  style?: string;
  seeds?: string | null;
  fixed?: string | null;
  /** 0 = no cap */
  count?: number;
  /** for files whose generation says `mode: ask` / `seed_mode: ask` */
  answers?: Answers;
}

export interface FilePlan {
  rows: PromptRow[];
  /** the alternatives of every axis the rows' variations name */
  axes: AxisAlternativesRow[];
  /** the manifest value lists the rows name */
  manifests: ManifestVariationsRow[];
  /** every file read, absolute */
  files: string[];
  warnings: string[];
}

const LIMIT = 4;

/** Placeholders without variations: none declared, or the import is a chunk (an @ reference), not a variations file. */
function missingError(resolved: ResolvedPrompt, missing: string[], imports: Map<string, Declared<ImportValue>>): InputError {
  const field = resolved.ownImports.size > 0 ? ['imports'] : ['prompt'];
  const chunks = missing.filter((n) => imports.has(n));
  const undeclared = missing.filter((n) => !imports.has(n));
  if (undeclared.length === 0) {
    return errorAt(resolved.entry, field, `${chunks.map((n) => `{${n}}`).join(', ')}: imported as chunks, not variations; insert a chunk with @Name, or import a variations file for {Name}`);
  }
  const available = [...imports].filter(([, d]) => isVariationImport(d.value)).map(([n]) => n).sort().join(', ') || '(none)';
  const alsoChunks = chunks.length ? `; ${chunks.join(', ')} are imported as chunks, not variations` : '';
  return errorAt(resolved.entry, field, `unknown placeholders: ${undeclared.join(', ')}; no import declares them (available imports: ${available})${alsoChunks}`);
}

function chooseTheme(resolved: ResolvedPrompt, loader: TemplateLoader, options: PlanOptions, warnings: string[]): AppliedTheme | null {
  if (!options.theme) return null;
  if (!resolved.themes) {
    warnings.push(`${resolved.entry.path} declares no themes block; planned without theme ${options.theme}`);
    return null;
  }
  return applyTheme(loader, resolved.themes, options.theme, options.style ?? 'default');
}

function baseSeedOf(resolved: ResolvedPrompt): number {
  const seed = resolved.generation.seed;
  return seed === -1 ? new Rng(hash32(resolved.entry.text)).next() : seed;
}

function sourcesOf(loader: TemplateLoader, resolved: ResolvedPrompt, axes: Axis[], imports: Map<string, Declared<ImportValue>>, removed: Set<string>) {
  const missing = axes.filter((a) => !removed.has(a.name) && !(imports.has(a.name) && isVariationImport(imports.get(a.name)!.value)));
  if (missing.length > 0) throw missingError(resolved, missing.map((a) => a.name), imports);
  return axes.map((a) => (removed.has(a.name) ? null : loadSource(loader, a.name, imports.get(a.name)!)));
}

function selectValues(axes: Axis[], sources: (VariationSource | null)[], base: number, fixed: Map<string, string>, locate: Locate, warnings: string[]): number[][] {
  return axes.map((axis, a) => {
    const source = sources[a];
    if (!source) return [0];
    const pinned = fixed.get(axis.name);
    if (pinned !== undefined) {
      const at = source.keys.indexOf(pinned);
      if (at < 0) throw new InputError(`fixed ${axis.name}:${pinned}: unknown key; available keys: ${source.keys.join(', ')}`, { field: 'fixed' });
      return [at];
    }
    const unknown = unknownSelections(axis.selector, source.keys);
    if (unknown) {
      const { file, line } = locate(axis.written);
      warnings.push(`${file ?? ''}${line ? `:${line}` : ''}: ${axis.written}: ${unknown}`);
    }
    try {
      return applySelector(axis.selector, source.keys, () => new Rng(base, LIMIT, hash32(axis.name)));
    } catch (error) {
      if (error instanceof SelectorError) throw new InputError(`placeholder ${axis.written}: ${error.message}`, { ...locate(axis.written), field: axis.name });
      throw error;
    }
  });
}

/**
 * Per value of the axis, the row's `variations` entry; rows share these objects (read-only),
 * which keeps 100,000-row plans out of the garbage collector.
 */
function chosenVariations(axis: string, source: VariationSource): { chosen: PromptRow['variations'][string][]; set: AxisAlternativesRow } {
  const texts = source.values.map((v) => renderValue(v, null) ?? '');
  const set = axisAlternatives(axis, source.keys, texts);
  return { chosen: source.keys.map((key, k) => ({ key, value: source.values[k], text: texts[k]!, alternatives: set.alternatives })), set };
}

function whereWritten(loader: TemplateLoader, written: string) {
  for (const path of loader.filesRead) {
    const file = loader.yaml(path);
    const at = file.text.indexOf(written);
    if (at >= 0) return { file: path, ...file.lines.linePos(at) };
  }
  return {};
}

/** Random combinations are unique by value: keep one key per distinct value. */
function distinctValues(selected: number[], source: VariationSource | null): number[] {
  if (!source) return selected;
  const seen = new Set<string>();
  return selected.filter((k) => {
    const id = JSON.stringify(source.values[k]);
    return !seen.has(id) && seen.add(id);
  });
}

/** Everything known before the first image: the template resolved down to axes and their values. */
interface Prepared {
  entryPath: string;
  loader: TemplateLoader;
  resolved: AnsweredPrompt;
  theme: AppliedTheme | null;
  /** the resolved prompt and negative, chunks expanded */
  texts: [string, string];
  parsed: ParsedTexts;
  sources: (VariationSource | null)[];
  fixed: Map<string, string>;
  spec: GenerationSpec;
  /** axes with a source (not removed by a theme) */
  live: number[];
  presets: PresetBinding | null;
  warnings: string[];
}

function prepare(path: string, options: PlanOptions): Prepared {
  const entryPath = resolve(path);
  const loader = new TemplateLoader(dirname(entryPath));
  const warnings: string[] = [];
  const resolved = withAnswers(resolveInheritance(loader, entryPath), options.answers);
  const theme = chooseTheme(resolved, loader, options, warnings);
  const sampler = samplerWarning(resolved.parameters, entryPath);
  if (sampler) warnings.push(sampler);
  const imports = new Map([...(theme ? theme.imports : resolved.inheritedImports), ...resolved.ownImports]);
  const removed = new Set([...(theme?.removed ?? [])].filter((n) => !resolved.ownImports.has(n)));
  const registry = chunkRegistry(resolved.chunks, imports);
  const expansions = [expandChunks(loader, resolved.text, registry), expandChunks(loader, resolved.negative, registry)];
  for (const expansion of expansions) {
    warnings.push(...expansion.warnings);
    for (const [n, d] of expansion.imports) if (!imports.has(n)) imports.set(n, d);
  }
  const texts: [string, string] = [expansions[0]!.text, expansions[1]!.text];
  const locate: Locate = (written) => whereWritten(loader, written);
  const parsed = parsePlaceholders(texts, locate);
  const { axes } = parsed;
  const sources = sourcesOf(loader, resolved, axes, imports, removed);
  const base = baseSeedOf(resolved);
  const fixed = parseFixed(options.fixed ?? '');
  for (const name of fixed.keys()) if (!axes.some((a) => a.name === name)) warnings.push(`fixed ${name}: no such placeholder in ${path}`);
  const selected = selectValues(axes, sources, base, fixed, locate, warnings);
  if (resolved.generation.mode === 'random') selected.forEach((values, a) => (selected[a] = distinctValues(values, sources[a] ?? null)));
  const live = axes.map((_, a) => a).filter((a) => sources[a] !== null);
  const weight = (a: number) => axes[a]!.selector.weight;
  const gen = resolved.generation;
  const spec: GenerationSpec = {
    mode: gen.mode, seedMode: gen.seed_mode, baseSeed: base, maxImages: gen.max_images, selected,
    enumerated: live.filter((a) => weight(a) > 0).sort((x, y) => weight(x) - weight(y)),
    drawn: live.filter((a) => weight(a) <= 0), sweep: options.seeds ? parseSeedSweep(options.seeds) : null,
    count: options.count ?? 0, noPlaceholders: axes.length === 0,
  };
  const presets = bindPresets({ loader, resolved, parsed, sources, imports, baseSeed: base }, loadPresets(loader, (key) => resolved.parameterFiles.get(key)));
  return { entryPath, loader, resolved, theme, texts, parsed, sources, fixed, spec, live, presets, warnings };
}

function buildRows(p: Prepared, options: PlanOptions): { rows: PromptRow[]; used: Set<number>[]; axes: AxisAlternativesRow[] } {
  const { parsed, sources, live, resolved, theme } = p;
  const { axes } = parsed;
  const locate: Locate = (written) => whereWritten(p.loader, written);
  const [promptTables, negativeTables] = parsed.texts.map((c) => renderTables(c, sources, p.spec.selected, axes, locate));
  const perAxis = axes.map((axis, a) => (sources[a] ? chosenVariations(axis.name, sources[a]!) : null));
  const chosen = perAxis.map((c) => c?.chosen ?? []);
  const session = resolved.output.session_name ?? resolved.name;
  const source = relative(options.projectDir, p.entryPath).split('\\').join('/');
  const paramsJson = stableStringify(resolved.parameters);
  const used = axes.map(() => new Set<number>());
  const rows: PromptRow[] = [];
  for (const image of planImages(p.spec)) {
    const prompt = normalisePrompt(render(parsed.texts[0]!, promptTables!, image.choice));
    const apiPrompt = flattenForApi(prompt);
    const negativePrompt = flattenForApi(normalisePrompt(render(parsed.texts[1]!, negativeTables!, image.choice)));
    const variations: PromptRow['variations'] = {};
    for (const a of live) {
      const k = image.choice[a]!;
      used[a]!.add(k);
      variations[axes[a]!.name] = chosen[a]![k]!;
    }
    const params = p.presets ? p.presets.paramsFor(image.choice, rows.length) : resolved.parameters;
    const paramsText = p.presets ? stableStringify(params) : paramsJson;
    rows.push({
      prompt_id: hashBytes(`${apiPrompt}\u0000${negativePrompt}\u0000${image.seed}\u0000${paramsText}`),
      source, session, theme: theme?.name ?? null, style: theme?.style ?? null, idx: rows.length,
      prompt, api_prompt: apiPrompt, negative_prompt: negativePrompt, seed: image.seed, variations,
      params, manifest: {}, manifest_variations: '',
    });
  }
  return { rows, used, axes: distinctAlternatives(perAxis.flatMap((c) => (c ? [c.set] : []))) };
}

/** sdgen's manifest entry for one placeholder: the value texts it could take and those it took. */
function variationSummary(source: VariationSource, selected: number[], used: Set<number>) {
  const text = (k: number) => renderValue(source.values[k]!, null) ?? '';
  return { available: selected.map(text), used: [...used].map(text), count: selected.length };
}

/** What the session manifest's snapshot needs (sdgen's manifest.json), shared by the file's rows. */
function manifestOf(p: Prepared, numImages: number, used: Set<number>[]): { manifest: Record<string, unknown>; variations: ManifestVariationsRow } {
  const { resolved, spec, live, theme } = p;
  const { axes } = p.parsed;
  const gen = resolved.generation;
  const summary = Object.fromEntries(live.map((a) => [axes[a]!.name, variationSummary(p.sources[a]!, spec.selected[a]!, used[a]!)]));
  const variations = { manifest_variations: hashValue(summary), variations: summary };
  const manifest = {
    version: '2.0',
    resolved_template: { prompt: normalisePrompt(p.texts[0]), negative: normalisePrompt(p.texts[1]) },
    generation_params: {
      mode: gen.mode, seed_mode: gen.seed_mode, base_seed: spec.baseSeed, num_images: numImages,
      total_combinations: totalCombinations(spec, gen.mode === 'random' ? live : spec.enumerated),
      ...(spec.sweep ? { seed_list: spec.sweep } : {}),
    },
    api_params: p.presets?.manifestParams ?? resolved.parameters,
    fixed_placeholders: Object.fromEntries(p.fixed),
    theme_name: theme?.name ?? null,
    style: theme?.style ?? null,
    output: {
      session_name: resolved.output.session_name ?? resolved.name,
      filename_keys: resolved.output.filename_keys ?? [], annotations: resolved.output.annotations ?? null,
    },
  };
  return { manifest, variations };
}

export function planPromptFile(path: string, options: PlanOptions): FilePlan {
  const prepared = prepare(path, options);
  const { rows, used, axes } = buildRows(prepared, options);
  const { manifest, variations } = manifestOf(prepared, rows.length, used);
  for (const row of rows) {
    row.manifest = manifest;
    row.manifest_variations = variations.manifest_variations;
  }
  const images = prepared.presets ? [...prepared.presets.presets.images.keys()] : [];
  return { rows, axes, manifests: [variations], files: [...prepared.loader.filesRead, ...images], warnings: [...prepared.loader.warnings, ...prepared.warnings] };
}
