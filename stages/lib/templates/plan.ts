// One entry prompt file -> the rows of table `prompts`: inheritance, theme, chunks,
// placeholders, selectors, combinations, seeds, normalisation.
import { dirname, relative, resolve } from 'node:path';
import type { ImportValue } from '../../../schemas/templates.js';
import type { PromptRow } from '../../../schemas/tables.js';
import { InputError } from '../../../src/errors.js';
import { hashBytes, stableStringify } from '../../../src/hash.js';
import { chunkRegistry, expandChunks } from './chunks.js';
import { planImages, totalCombinations, type GenerationSpec } from './combinator.js';
import { parsePlaceholders, render, renderTables, renderValue, type Axis, type Locate } from './compile.js';
import { isVariationImport, loadSource, type VariationSource } from './imports.js';
import { resolveInheritance, type Declared, type ResolvedPrompt } from './inherit.js';
import { TemplateLoader } from './loader.js';
import { flattenForApi, normalisePrompt } from './normalise.js';
import { hash32, Rng } from './prng.js';
import { parseFixed, parseSeedSweep } from './seeds.js';
import { applySelector, SelectorError } from './selectors.js';
import { applyTheme, type AppliedTheme } from './themes.js';
import { errorAt } from './yaml-file.js';

export interface PlanOptions {
  /** `source` is written relative to this folder */
  projectDir: string;
  theme?: string | null;
  style?: string;
  seeds?: string | null;
  fixed?: string | null;
  /** 0 = no cap */
  count?: number;
}

export interface FilePlan {
  rows: PromptRow[];
  /** every file read, absolute */
  files: string[];
  warnings: string[];
}

const LIMIT = 4;

function missingError(resolved: ResolvedPrompt, missing: string[], imports: Map<string, unknown>): InputError {
  const available = [...imports.keys()].sort().join(', ') || '(none)';
  const field = resolved.ownImports.size > 0 ? ['imports'] : ['prompt'];
  return errorAt(resolved.entry, field, `unknown placeholders: ${missing.join(', ')}; no import declares them (available imports: ${available})`);
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

function selectValues(axes: Axis[], sources: (VariationSource | null)[], base: number, fixed: Map<string, string>, locate: Locate): number[][] {
  return axes.map((axis, a) => {
    const source = sources[a];
    if (!source) return [0];
    const pinned = fixed.get(axis.name);
    if (pinned !== undefined) {
      const at = source.keys.indexOf(pinned);
      if (at < 0) throw new InputError(`fixed ${axis.name}:${pinned}: unknown key; available keys: ${source.keys.join(', ')}`, { field: 'fixed' });
      return [at];
    }
    try {
      return applySelector(axis.selector, source.keys, () => new Rng(base, LIMIT, hash32(axis.name)));
    } catch (error) {
      if (error instanceof SelectorError) throw new InputError(`placeholder ${axis.written}: ${error.message}`, { ...locate(axis.written), field: axis.name });
      throw error;
    }
  });
}

/** The alternatives a scorer compares: every key of the axis' source and the text each renders. */
function axisAlternatives(source: VariationSource) {
  return { keys: source.keys, texts: source.values.map((v) => renderValue(v, null) ?? '') };
}

function whereWritten(loader: TemplateLoader, written: string) {
  for (const path of loader.filesRead) {
    const file = loader.yaml(path);
    const at = file.text.indexOf(written);
    if (at >= 0) return { file: path, ...file.lines.linePos(at) };
  }
  return {};
}

export function planPromptFile(path: string, options: PlanOptions): FilePlan {
  const entryPath = resolve(path);
  const loader = new TemplateLoader(dirname(entryPath));
  const warnings: string[] = [];
  const resolved = resolveInheritance(loader, entryPath);
  const theme = chooseTheme(resolved, loader, options, warnings);
  const imports = new Map([...(theme ? theme.imports : resolved.inheritedImports), ...resolved.ownImports]);
  const removed = new Set([...(theme?.removed ?? [])].filter((n) => !resolved.ownImports.has(n)));
  const registry = chunkRegistry(resolved.chunks, imports);
  const text = expandChunks(loader, resolved.text, registry);
  const negative = expandChunks(loader, resolved.negative, registry);
  for (const expansion of [text, negative]) {
    warnings.push(...expansion.warnings);
    for (const [n, d] of expansion.imports) if (!imports.has(n)) imports.set(n, d);
  }
  const locate: Locate = (written) => whereWritten(loader, written);
  const parsed = parsePlaceholders([text.text, negative.text], locate);
  const { axes } = parsed;
  const sources = sourcesOf(loader, resolved, axes, imports, removed);
  const base = baseSeedOf(resolved);
  const fixed = parseFixed(options.fixed ?? '');
  for (const name of fixed.keys()) if (!axes.some((a) => a.name === name)) warnings.push(`fixed ${name}: no such placeholder in ${path}`);
  const selected = selectValues(axes, sources, base, fixed, locate);
  const [promptTables, negativeTables] = parsed.texts.map((c) => renderTables(c, sources, selected, axes, locate));
  const live = axes.map((_, a) => a).filter((a) => sources[a] !== null);
  const enumerated = live.filter((a) => axes[a]!.selector.weight > 0).sort((x, y) => axes[x]!.selector.weight - axes[y]!.selector.weight);
  const gen = resolved.generation;
  const spec: GenerationSpec = {
    mode: gen.mode, seedMode: gen.seed_mode, baseSeed: base, maxImages: gen.max_images, selected, enumerated,
    drawn: live.filter((a) => axes[a]!.selector.weight <= 0), sweep: options.seeds ? parseSeedSweep(options.seeds) : null,
    count: options.count ?? 0, noPlaceholders: axes.length === 0,
  };
  const alternatives = axes.map((_, a) => (sources[a] ? axisAlternatives(sources[a]!) : null));
  const session = resolved.output.session_name ?? resolved.name;
  const source = relative(options.projectDir, entryPath).split('\\').join('/');
  const paramsJson = stableStringify(resolved.parameters);
  const used = axes.map(() => new Set<number>());
  const manifest: Record<string, unknown> = {};
  const rows: PromptRow[] = [];
  let idx = 0;
  for (const image of planImages(spec)) {
    const prompt = normalisePrompt(render(parsed.texts[0]!, promptTables!, image.choice));
    const apiPrompt = flattenForApi(prompt);
    const negativePrompt = flattenForApi(normalisePrompt(render(parsed.texts[1]!, negativeTables!, image.choice)));
    const variations: PromptRow['variations'] = {};
    for (const a of live) {
      const k = image.choice[a]!;
      used[a]!.add(k);
      variations[axes[a]!.name] = { key: sources[a]!.keys[k]!, value: sources[a]!.values[k], ...alternatives[a]! };
    }
    rows.push({
      prompt_id: hashBytes(`${apiPrompt}\u0000${negativePrompt}\u0000${image.seed}\u0000${paramsJson}`),
      source, session, theme: theme?.name ?? null, style: theme?.style ?? null, idx: idx++,
      prompt, api_prompt: apiPrompt, negative_prompt: negativePrompt, seed: image.seed, variations,
      params: resolved.parameters, manifest,
    });
  }
  Object.assign(manifest, {
    version: '2.0',
    resolved_template: { prompt: normalisePrompt(text.text), negative: normalisePrompt(negative.text) },
    generation_params: {
      mode: gen.mode, seed_mode: spec.sweep ? 'sweep' : gen.seed_mode, base_seed: base, num_images: rows.length,
      total_combinations: totalCombinations(spec, gen.mode === 'random' ? live : enumerated),
      ...(spec.sweep ? { seed_list: spec.sweep } : {}),
    },
    api_params: resolved.parameters,
    variations: Object.fromEntries(live.map((a) => [axes[a]!.name, { available: sources[a]!.keys.length, used: used[a]!.size, count: selected[a]!.length }])),
    fixed_placeholders: Object.fromEntries(fixed),
    theme_name: theme?.name ?? null,
    style: theme?.style ?? null,
    output: { session_name: session, filename_keys: resolved.output.filename_keys ?? [], annotations: resolved.output.annotations ?? null },
  });
  return { rows, files: [...loader.filesRead], warnings };
}
