// One session folder -> its rows: an image row per readable PNG (keyed by content hash,
// pointing at the file where it is), the prompt recovered for it, and the session's
// planned / present / failed counts. The PNG's own `parameters` text is the ground truth
// for seed and model (sdgen saved the bytes A1111 returned); the manifest adds what A1111
// never knew: the variation texts, the planned count, the session's status.
import { readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parsePngHead, parseParameters, readPngText, type GenerationParameters, type PngHead } from '../../adapters/png-text.js';
import { hashBytes, hashValue } from '../../src/hash.js';
import type { AxisAlternativesRow, CatalogImageRow, CatalogPromptRow, ChosenVariation, ImportedSessionRow, UnresolvedVariation } from '../../schemas/tables.js';
import { distinctAlternatives } from '../resolve/alternatives.js';
import { indexOf, plainFolderPlan, readSessionPlan, v1Applied, type PlannedImage, type SessionPlan } from './manifests.js';
import { FolderAnnotations } from './annotation-band.js';
import type { FileStat } from './roots.js';
import type { VariationIndex } from './variation-keys.js';

export interface FolderItem extends Record<string, unknown> {
  session_dir: string;
  /** the stats of every PNG and JSON file directly in the folder: what its rows are memoised under */
  files: FileStat[];
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

function recoverVariations(plan: SessionPlan, planned: PlannedImage | undefined, filename: string, prompt: string, index: VariationIndex, annotated: boolean): Recovered {
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
  if (!annotated) return out;
  // The text box sdgen drew names the values: CLIP would read it and grade every axis a match.
  const withheld = Object.entries(out.variations).map(([axis, v]): UnresolvedVariation => ({
    axis, text: v.text, key: null, reason: 'annotated: the value text is burned into the image', candidates: [v.key],
  }));
  return { variations: {}, unresolved: [...out.unresolved, ...withheld], sets: [] };
}

/** A1111 writes its text before the pixels; other tools may put it after IDAT. */
function parametersAfterPixels(bytes: Buffer): string | undefined {
  try {
    return readPngText(bytes).parameters;
  } catch {
    return undefined;
  }
}

interface ReadPng {
  hash: string;
  head: PngHead;
  bytes: Buffer;
  /** the manifest says so, or the pixels show sdgen's annotation box */
  annotated: boolean;
}

/** hashFile's scheme over bytes in memory: whole up to 64 MiB, above that the hash of its 64 MiB chunks' hashes. */
const hashChunk = 64 << 20;
function contentHash(bytes: Buffer): string {
  if (bytes.length <= hashChunk) return hashBytes(bytes);
  const chunks: string[] = [];
  for (let at = 0; at < bytes.length; at += hashChunk) chunks.push(hashBytes(bytes.subarray(at, at + hashChunk)));
  return hashBytes(chunks.join(''));
}

/**
 * One read per file: its content hash (the image's identity, as generate's store takes
 * it), its head and, where no manifest flags it, a look for the annotation box, all from
 * the same bytes.
 */
async function readPng(path: string, plan: SessionPlan, annotations: FolderAnnotations): Promise<ReadPng | Error> {
  try {
    const bytes = readFileSync(path);
    const head = parsePngHead(bytes);
    const annotated = plan.annotated || (await annotations.annotated(head, bytes));
    return { hash: contentHash(bytes), head, bytes, annotated };
  } catch (error) {
    return error as Error;
  }
}

/** `folder` is where the file is, `dir` the folder as the tables store it. */
function rowsOf(folder: string, dir: string, name: string, { hash, head, bytes, annotated }: ReadPng, plan: SessionPlan, index: VariationIndex): [CatalogImageRow, CatalogPromptRow, AxisAlternativesRow[]] {
  const text = head.texts.parameters ?? parametersAfterPixels(bytes);
  const info: GenerationParameters = text ? parseParameters(text) : { prompt: '', negativePrompt: '', settings: {} };
  const idx = indexOf(name);
  // By name (V2 lists successes by file name), else by the index in the name (the October manifest plans by index).
  const planned = plan.byFilename.get(name) ?? (idx !== null ? plan.byIndex.get(idx) : undefined);
  const prompt = planned?.prompt || info.prompt;
  const pngSeed = Number.parseInt(info.settings.Seed ?? '', 10);
  const seed = Number.isFinite(pngSeed) ? pngSeed : (planned?.seed ?? -1);
  const checkpoint = splitCheckpoint(plan.checkpoint);
  const { variations, unresolved, sets } = recoverVariations(plan, planned, name, prompt, index, annotated);
  const promptId = hashValue({ imported: hash });
  const session = basename(folder);
  const image: CatalogImageRow = {
    image_id: hash, prompt_id: promptId, path: join(dir, name), seed, width: head.width, height: head.height,
    backend: 'imported', endpoint: '', model_name: info.settings.Model ?? checkpoint.name, model_hash: info.settings['Model hash'] ?? checkpoint.hash,
    loras: lorasOf(prompt), gen_ms: 0, status: 'ok', error: null, rendered: null, session_dir: dir, filename: name,
    origin: 'imported', annotated,
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

async function planOf(folder: string, item: FolderItem, problems: string[]): Promise<SessionPlan> {
  try {
    return await readSessionPlan(folder, item.files.map(([name]) => name));
  } catch (error) {
    problems.push(`${folder}: manifest not read (${(error as Error).message}); importing its PNGs from their own metadata`);
    return plainFolderPlan();
  }
}

/** The item's folder is read where it is (its stored form resolved against the project) and its rows name it as stored. */
export async function importFolder(item: FolderItem, index: VariationIndex, projectDir: string): Promise<FolderRows> {
  const folder = resolve(projectDir, item.session_dir);
  const problems: string[] = [];
  const plan = await planOf(folder, item, problems);
  const rows: FolderRows = { imported: [], imported_prompts: [], imported_sessions: [], imported_axes: [], problems };
  const unreadable: string[] = [];
  const indexes: number[] = [];
  const annotations = new FolderAnnotations();
  for (const [name] of item.files) {
    if (!isPng(name)) continue;
    const read = await readPng(join(folder, name), plan, annotations);
    if (read instanceof Error) {
      unreadable.push(`${name}: ${read.message}`);
      problems.push(`${join(folder, name)}: skipped, ${read.message}`);
      continue;
    }
    const [image, prompt, sets] = rowsOf(folder, item.session_dir, name, read, plan, index);
    rows.imported_axes.push(...sets);
    rows.imported.push(image);
    rows.imported_prompts.push(prompt);
    if (prompt.idx >= 0) indexes.push(prompt.idx);
  }
  const planned = plan.planned ?? (indexes.length ? Math.max(rows.imported.length, Math.max(...indexes) + (indexes.includes(0) ? 1 : 0)) : rows.imported.length);
  rows.imported_sessions.push({
    session_dir: item.session_dir, session: basename(folder), format: plan.format, confidence: plan.confidence, status: plan.status,
    planned, present: rows.imported.length, failed_indexes: failedIndexes(planned, indexes), unreadable,
  });
  rows.imported_axes = distinctAlternatives(rows.imported_axes);
  return rows;
}
