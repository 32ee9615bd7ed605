// One session folder -> its rows: an image row per readable PNG (keyed by content hash,
// pointing at the file where it is), the prompt recovered for it, and the session's
// planned / present / failed counts. The PNG's own `parameters` text is the ground truth
// for seed and model (sdgen saved the bytes A1111 returned); the manifest adds what A1111
// never knew: the variation texts, the planned count, the session's status.
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseParameters, readPngHead, readPngText, type GenerationParameters, type PngHead } from '../../adapters/png-text.js';
import { hashValue } from '../../src/hash.js';
import type { AxisAlternativesRow, CatalogImageRow, CatalogPromptRow, ChosenVariation, ImportedSessionRow, UnresolvedVariation } from '../../schemas/tables.js';
import { distinctAlternatives } from '../resolve/alternatives.js';
import { indexOf, plainFolderPlan, readSessionPlan, v1Applied, type PlannedImage, type SessionPlan } from './manifests.js';
import type { VariationIndex } from './variation-keys.js';

export interface FolderItem extends Record<string, unknown> {
  session_dir: string;
  /** [file name, content hash] of every PNG and JSON file directly in the folder */
  files: [string, string][];
}

export interface FolderRows {
  imported: CatalogImageRow[];
  imported_prompts: CatalogPromptRow[];
  imported_sessions: ImportedSessionRow[];
  /** the alternatives the folder's prompts name, once each */
  imported_axes: AxisAlternativesRow[];
  /** files skipped, with why: reported as warnings naming the path */
  problems: string[];
}

const isPng = (name: string) => /\.png$/i.test(name);

/** `name.safetensors [abc123def4]` -> name and hash, as A1111 titles checkpoints. */
function splitCheckpoint(title: string | null): { name: string; hash: string } {
  const m = /^(.*?)(?:\.safetensors|\.ckpt)?\s*\[([0-9a-f]+)\]\s*$/i.exec(title ?? '');
  return m ? { name: m[1]!, hash: m[2]! } : { name: title ?? '', hash: '' };
}

function lorasOf(prompt: string): string[] {
  return [...prompt.matchAll(/<lora:([^:>]+)(?::[^>]*)?>/gi)].map((m) => m[1]!);
}

interface Recovered {
  variations: Record<string, ChosenVariation>;
  unresolved: UnresolvedVariation[];
  /** the axes rows the variations name */
  sets: AxisAlternativesRow[];
}

function recoverVariations(plan: SessionPlan, planned: PlannedImage | undefined, filename: string, prompt: string, index: VariationIndex): Recovered {
  const applied = planned?.applied ?? (plan.format === 'v1' ? v1Applied(plan, filename) : null);
  const mappings = applied
    ? Object.entries(applied).map(([axis, text]) => index.map(axis, text, plan.available[axis], plan.fixed[axis]))
    : index.findInPrompt(prompt);
  const out: Recovered = { variations: {}, unresolved: [], sets: [] };
  for (const m of mappings) {
    if ('unresolved' in m) {
      out.unresolved.push(m.unresolved);
      continue;
    }
    const { set, ...chosen } = m.mapped;
    out.variations[m.axis] = chosen;
    out.sets.push(set);
  }
  if (!plan.annotated) return out;
  // The text box sdgen drew names the values: CLIP would read it and grade every axis a match.
  const withheld = Object.entries(out.variations).map(([axis, v]): UnresolvedVariation => ({
    axis, text: v.text, key: null, reason: 'annotated: the value text is burned into the image', candidates: [v.key],
  }));
  return { variations: {}, unresolved: [...out.unresolved, ...withheld], sets: [] };
}

/** A1111 writes its text before the pixels; other tools may put it after IDAT, so a PNG without it is read whole once. */
function parametersAfterPixels(path: string): string | undefined {
  try {
    return readPngText(readFileSync(path)).parameters;
  } catch {
    return undefined;
  }
}

function rowsOf(dir: string, name: string, hash: string, head: PngHead, plan: SessionPlan, index: VariationIndex): [CatalogImageRow, CatalogPromptRow, AxisAlternativesRow[]] {
  const text = head.texts.parameters ?? parametersAfterPixels(join(dir, name));
  const info: GenerationParameters = text ? parseParameters(text) : { prompt: '', negativePrompt: '', settings: {} };
  const idx = indexOf(name);
  // By name (V2 lists successes by file name), else by the index in the name (the October manifest plans by index).
  const planned = plan.byFilename.get(name) ?? (idx !== null ? plan.byIndex.get(idx) : undefined);
  const prompt = planned?.prompt || info.prompt;
  const pngSeed = Number.parseInt(info.settings.Seed ?? '', 10);
  const seed = Number.isFinite(pngSeed) ? pngSeed : (planned?.seed ?? -1);
  const checkpoint = splitCheckpoint(plan.checkpoint);
  const { variations, unresolved, sets } = recoverVariations(plan, planned, name, prompt, index);
  const promptId = hashValue({ imported: hash });
  const session = basename(dir);
  const image: CatalogImageRow = {
    image_id: hash, prompt_id: promptId, path: join(dir, name), seed, width: head.width, height: head.height,
    backend: 'imported', endpoint: '', model_name: info.settings.Model ?? checkpoint.name, model_hash: info.settings['Model hash'] ?? checkpoint.hash,
    loras: lorasOf(prompt), gen_ms: 0, status: 'ok', error: null, rendered: null, session_dir: dir, filename: name,
    origin: 'imported', annotated: plan.annotated,
  };
  const promptRow: CatalogPromptRow = {
    prompt_id: promptId, source: plan.manifest ? join(dir, plan.manifest) : join(dir, name), session, theme: plan.theme, style: plan.style,
    idx: planned?.idx ?? idx ?? -1, prompt, api_prompt: prompt, negative_prompt: planned?.negative || info.negativePrompt, seed,
    variations,
    params: { ...plan.params, ...info.settings }, manifest: { format: plan.format, status: plan.status, confidence: plan.confidence }, manifest_variations: '',
    origin: 'imported', unresolved,
  };
  return [image, promptRow, sets];
}

/** Planned indexes with no image. Names count from 0 unless the session's last index equals the planned count. */
function failedIndexes(planned: number, present: number[]): number[] {
  const have = new Set(present);
  const base = have.has(0) || Math.max(-1, ...present) < planned ? 0 : 1;
  const failed: number[] = [];
  for (let i = base; i < planned + base; i++) if (!have.has(i)) failed.push(i);
  return failed;
}

async function planOf(item: FolderItem, problems: string[]): Promise<SessionPlan> {
  try {
    return await readSessionPlan(item.session_dir, item.files.map(([n]) => n));
  } catch (error) {
    problems.push(`${item.session_dir}: manifest not read (${(error as Error).message}); importing its PNGs from their own metadata`);
    return plainFolderPlan();
  }
}

export async function importFolder(item: FolderItem, index: VariationIndex): Promise<FolderRows> {
  const problems: string[] = [];
  const plan = await planOf(item, problems);
  const pngs = item.files.filter(([n]) => isPng(n));
  const heads = pngs.map(([name]): PngHead | Error => {
    try {
      return readPngHead(join(item.session_dir, name));
    } catch (error) {
      return error as Error;
    }
  });
  const rows: FolderRows = { imported: [], imported_prompts: [], imported_sessions: [], imported_axes: [], problems };
  const unreadable: string[] = [];
  const indexes: number[] = [];
  pngs.forEach(([name, hash], i) => {
    const head = heads[i]!;
    if (head instanceof Error) {
      unreadable.push(`${name}: ${head.message}`);
      problems.push(`${join(item.session_dir, name)}: skipped, ${head.message}`);
      return;
    }
    const [image, prompt, sets] = rowsOf(item.session_dir, name, hash, head, plan, index);
    rows.imported_axes.push(...sets);
    rows.imported.push(image);
    rows.imported_prompts.push(prompt);
    if (prompt.idx >= 0) indexes.push(prompt.idx);
  });
  const planned = plan.planned ?? (indexes.length ? Math.max(rows.imported.length, Math.max(...indexes) + (indexes.includes(0) ? 1 : 0)) : rows.imported.length);
  rows.imported_sessions.push({
    session_dir: item.session_dir, session: basename(item.session_dir), format: plan.format, confidence: plan.confidence, status: plan.status,
    planned, present: rows.imported.length, failed_indexes: failedIndexes(planned, indexes), unreadable,
  });
  rows.imported_axes = distinctAlternatives(rows.imported_axes);
  return rows;
}
