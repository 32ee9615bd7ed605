// One reading of a session folder's manifest, whatever sdgen release wrote it: what was
// planned (count, and per image its prompt, seed and variation texts) and how it was made.
// The four formats are told apart by file name and version; a folder without one is a
// plain A1111 output folder, read from the PNGs alone.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { z } from 'zod';
import { octoberManifest, v1Metadata, v2Manifest, type OctoberManifest, type V1Metadata, type V2Manifest } from '../../schemas/sdgen.js';
import type { ImportedSessionRow } from '../../schemas/tables.js';

/** What the manifest says about one planned image. */
export interface PlannedImage {
  idx: number | null;
  seed: number | null;
  prompt: string;
  negative: string;
  /** placeholder -> the text it rendered */
  applied: Record<string, string>;
}

export interface SessionPlan {
  format: ImportedSessionRow['format'];
  manifest: string | null;
  confidence: string | null;
  status: string | null;
  /** null when the manifest does not say (the present images are then all there was) */
  planned: number | null;
  checkpoint: string | null;
  params: Record<string, unknown>;
  annotated: boolean;
  theme: string | null;
  style: string | null;
  /** placeholder -> every text sdgen listed for it */
  available: Record<string, string[]>;
  /** placeholder -> the KEY it was pinned to */
  fixed: Record<string, string>;
  byFilename: Map<string, PlannedImage>;
  byIndex: Map<number, PlannedImage>;
}

/** `<session>_<idx:04d>[_...].png` (sdgen V2) or `NNN_Key-value.png` (V1). */
export function indexOf(filename: string): number | null {
  const m = /_(\d{4})(?:_[^/]*)?\.png$/i.exec(filename) ?? /^(\d{3,})(?:_[^/]*)?\.png$/i.exec(filename);
  return m ? Number(m[1]) : null;
}

/** sdgen's `output.annotations`: `true`, or a block that is on unless `enabled: false`. */
function annotationsOn(value: unknown): boolean {
  if (value === true) return true;
  return typeof value === 'object' && value !== null && (value as { enabled?: unknown }).enabled !== false;
}

function emptyPlan(format: SessionPlan['format'], manifest: string | null): SessionPlan {
  return {
    format, manifest, confidence: null, status: null, planned: null, checkpoint: null, params: {}, annotated: false,
    theme: null, style: null, available: {}, fixed: {}, byFilename: new Map(), byIndex: new Map(),
  };
}

function fromV2(m: V2Manifest, file: string): SessionPlan {
  const s = m.snapshot;
  const plan = emptyPlan(s.version.includes('inferred') || s.inference_info ? 'v2-inferred' : 'v2', file);
  plan.confidence = s.inference_info?.confidence ?? null;
  plan.status = m.status ?? null;
  plan.planned = s.generation_params?.num_images ?? null;
  const checkpoint = s.runtime_info?.sd_model_checkpoint;
  plan.checkpoint = checkpoint && checkpoint !== 'unknown' ? checkpoint : null;
  plan.params = s.api_params ?? {};
  plan.annotated = annotationsOn(s.output?.annotations);
  plan.theme = s.theme_name ?? null;
  plan.style = s.style ?? null;
  plan.available = Object.fromEntries(Object.entries(s.variations).map(([ph, v]) => [ph, v.available]));
  plan.fixed = s.fixed_placeholders;
  for (const image of m.images) {
    const idx = indexOf(image.filename);
    const planned = { idx, seed: image.seed ?? null, prompt: image.prompt, negative: image.negative_prompt, applied: image.applied_variations };
    plan.byFilename.set(image.filename, planned);
    if (idx !== null) plan.byIndex.set(idx, planned);
  }
  return plan;
}

function fromOctober(m: OctoberManifest, file: string): SessionPlan {
  const plan = emptyPlan('october-2025', file);
  plan.planned = m.variations.length;
  plan.params = m.variations[0]?.parameters ?? {};
  plan.annotated = annotationsOn((plan.params as { annotations?: unknown }).annotations);
  for (const v of m.variations) {
    plan.byIndex.set(v.index, { idx: v.index, seed: v.seed >= 0 ? v.seed : null, prompt: v.prompt, negative: v.negative_prompt, applied: v.variations });
    for (const [ph, text] of Object.entries(v.variations)) (plan.available[ph] ??= []).includes(text) || plan.available[ph]!.push(text);
  }
  return plan;
}

/** Slug as sdgen V1 wrote values into file names. */
const slug = (text: string) => text.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, '-').replace(/^-+|-+$/g, '');

function fromV1(m: V1Metadata, file: string): SessionPlan {
  const plan = emptyPlan('v1', file);
  plan.planned = m.generation.images_generated ?? null;
  plan.params = m.parameters;
  plan.annotated = annotationsOn((m.output as { annotations?: unknown } | undefined)?.annotations);
  // Lists were cut to 10 and "... and N more": only the real values are texts.
  plan.available = Object.fromEntries(Object.entries(m.variations).map(([ph, v]) => [ph, v.values.filter((t) => !/^\.\.\. and \d+ more$/.test(t))]));
  return plan;
}

/** V1 images are `NNN_Key-value.png`: the value slug is matched against the listed texts. */
export function v1Applied(plan: SessionPlan, filename: string): Record<string, string> {
  const applied: Record<string, string> = {};
  for (const part of filename.replace(/\.png$/i, '').split('_').slice(1)) {
    const dash = part.indexOf('-');
    if (dash < 0) continue;
    const [ph, valueSlug] = [part.slice(0, dash), part.slice(dash + 1)];
    const text = plan.available[ph]?.find((t) => slug(t) === valueSlug);
    applied[ph] = text ?? valueSlug;
  }
  return applied;
}

async function parseJson<T>(path: string, schema: z.ZodType<T>): Promise<T> {
  const raw = JSON.parse(await readFile(path, 'utf8')) as unknown;
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw new Error(`${issue.message} at ${issue.path.join('.') || 'the top level'}`);
}

/**
 * The folder's plan from the manifest among `names`; a plain PNG folder when there is
 * none. A manifest that does not parse throws with its path: the caller reports it and
 * falls back to the PNGs' own metadata.
 */
export async function readSessionPlan(dir: string, names: string[]): Promise<SessionPlan> {
  if (names.includes('manifest.json')) return fromV2(await parseJson(join(dir, 'manifest.json'), v2Manifest), 'manifest.json');
  const october = names.find((n) => n.endsWith('_manifest.json'));
  if (october) return fromOctober(await parseJson(join(dir, october), octoberManifest), october);
  if (names.includes('metadata.json')) return fromV1(await parseJson(join(dir, 'metadata.json'), v1Metadata), 'metadata.json');
  return emptyPlan('png-info', null);
}

export function plainFolderPlan(): SessionPlan {
  return emptyPlan('png-info', null);
}
