// What defines a rendered image, per planned prompt: the request exactly as the backend
// receives it and the content of the LoRAs it names. Session names, file names, the
// manifest snapshot, the prompt file's other values and the retry settings are not in
// it, so none of them can re-render an image. The checkpoint (pinned, or as loaded on the
// A1111 servers) and the renderer's version come in as the stage's resources. A prompt
// file's batch (batch_size x n_iter) is one request, so one item: its images' positions
// and seeds are in the memoised rows, and the request (batch fields and the size the
// checkpoint's family gives included) is what a rerun must match to replay them.
import { isAbsolute, resolve } from 'node:path';
import {
  A1111Error, loadedCheckpoint, lorasInPrompt, listLoras, serverLoraIdentity, txt2imgPayload, withLoras,
} from '../../adapters/a1111.js';
import { loadSyntheticCheckpoint, loraLoader } from '../../demo/synthetic-lora.js';
import { SYNTHETIC_VERSION, syntheticIdentity } from '../../demo/synthetic.js';
import { findLoraFile } from '../../adapters/safetensors.js';
import { hashValue } from '../../src/hash.js';
import type { StageContext } from '../../src/stage.js';
import type { PromotedLoraRow, PromptRow } from '../../schemas/tables.js';
import { lorasForRows, renderFamily, type GenerateParams } from './backend.js';
import { familySize } from '../../adapters/a1111-family.js';
import { readAlternatives } from '../resolve/alternatives.js';
import { mergedResource, promotedResource, readMerged, readPromoted, withMerged, withPromoted } from './promoted.js';

type Ctx = StageContext<{ generate: GenerateParams }>;

const loraDirs = (g: GenerateParams, projectDir: string) => g.lora_dirs.map((d) => (isAbsolute(d) ? d : resolve(projectDir, d)));

/**
 * Per LoRA name, what the servers list for it (GET /sdapi/v1/loras on every reachable
 * endpoint): an endpoint that is down says nothing, so adding one changes no identity.
 */
async function serverLoraIdentities(endpoints: string[]): Promise<Map<string, string>> {
  const listings = await Promise.allSettled(endpoints.map((e) => listLoras(e)));
  const found = new Map<string, string>();
  for (const listing of listings) {
    if (listing.status !== 'fulfilled') continue;
    for (const lora of listing.value) {
      const identity = serverLoraIdentity(lora);
      if (!identity) continue;
      for (const name of [lora.name, lora.alias]) if (name && !found.has(name)) found.set(name, identity);
    }
  }
  return found;
}

/**
 * What stands for a LoRA's content: its hash when it is in generate.lora_dirs (through
 * the stat cache), else the metadata hash or file the A1111 servers list for it, else
 * (a server that lists nothing) its name alone (null).
 */
async function loraHasher(g: GenerateParams, ctx: Ctx): Promise<(name: string) => Promise<string | null>> {
  const cache = new Map<string, Promise<string | null>>();
  const dirs = loraDirs(g, ctx.projectDir);
  const onServer = await serverLoraIdentities(g.endpoints);
  return (name) => {
    let hash = cache.get(name);
    if (!hash) cache.set(name, (hash = findLoraFile(name, dirs).then((path) => ctx.fileHash(path), () => onServer.get(name) ?? null)));
    return hash;
  };
}

async function a1111Identities(rows: PromptRow[], g: GenerateParams, ctx: Ctx): Promise<unknown[]> {
  const extra = lorasForRows(g);
  const loraHash = await loraHasher(g, ctx);
  // The size a request gets from the checkpoint's family is in the request, so in the identity.
  const defaultSize = familySize[(await renderFamily(g)).family];
  return Promise.all(
    rows.map(async (row) => {
      const request = txt2imgPayload(row, { model: g.model, loras: extra(row), defaultSize });
      const loras = await Promise.all(lorasInPrompt(String(request.prompt)).map(async (l) => [l.name, await loraHash(l.name)]));
      return { request, loras };
    }),
  );
}

async function syntheticIdentities(rows: PromptRow[], g: GenerateParams, ctx: Ctx): Promise<unknown[]> {
  const extra = lorasForRows(g);
  const lora = loraLoader(loraDirs(g, ctx.projectDir));
  const alternatives = await readAlternatives(ctx.inputs);
  const checkpoint = g.model ? await loadSyntheticCheckpoint(g.model, g.checkpoint_dirs.map((d) => (isAbsolute(d) ? d : resolve(ctx.projectDir, d)))) : null;
  const options = { failureRate: g.failure_rate, valueFailureRates: g.value_failure_rates, blankRate: g.blank_rate, lora, alternatives: (id: string) => alternatives.get(id), checkpoint };
  return Promise.all(
    rows.map((row) =>
      // A LoRA that cannot be loaded fails the render: the error is then what the item is.
      syntheticIdentity({ ...row, api_prompt: withLoras(row.api_prompt, extra(row)) }, options).catch((error: Error) => ({ unrenderable: error.message })),
    ),
  );
}

/** Each row's identity, with the promoted LoRAs in the request as the backend will send them. */
export async function renderIdentities(rows: PromptRow[], ctx: Ctx): Promise<unknown[]> {
  const g = withMerged(withPromoted(ctx.params.generate, await readPromoted(ctx.sql)), await readMerged(ctx.sql));
  return g.backend === 'a1111' ? a1111Identities(rows, g, ctx) : syntheticIdentities(rows, g, ctx);
}

/**
 * The checkpoint an unpinned request renders with: the one loaded on the servers
 * (`name.safetensors [hash]`), so a swap on a server makes every image stale. Servers
 * that are down are left out; several with different checkpoints loaded are all named,
 * since either may render any image.
 */
async function serverCheckpoint(endpoints: string[]): Promise<string> {
  const checks = await Promise.allSettled(endpoints.map((e) => loadedCheckpoint(e)));
  const loaded = [...new Set(checks.flatMap((c) => (c.status === 'fulfilled' ? [c.value] : [])))].sort();
  if (loaded.length === 0) {
    const why = checks.map((c) => (c as PromiseRejectedResult).reason.message).join('; ');
    throw new A1111Error(`cannot tell which checkpoint the A1111 servers have loaded (generate.model is unset): ${why}`, 'connection', endpoints[0]!);
  }
  return loaded.join(', ');
}

/**
 * What the A1111 servers list of their LoRAs, and the LoRAs promoted per theme: a LoRA
 * retrained on a server, or promoted for a theme, makes generate stale, and only the
 * images whose identity names it rerun.
 */
export async function renderObserved(ctx: Ctx): Promise<Record<string, string>> {
  const g = ctx.params.generate;
  const themed = themePromoted(await readPromoted(ctx.sql));
  if (g.backend !== 'a1111') return themed;
  const listed = [...(await serverLoraIdentities(g.endpoints))].sort(([a], [b]) => a.localeCompare(b));
  return { 'server LoRAs': `${listed.length} listed, ${hashValue(listed).slice(0, 12)}`, ...themed };
}

/**
 * The LoRAs promoted for one theme: in their theme's requests only, so not a resource
 * (that would re-render every image) but observed, so promoting one makes generate
 * stale and only that theme's images rerun.
 */
function themePromoted(promoted: PromotedLoraRow[]): Record<string, string> {
  const themed = promoted.filter((p) => p.theme !== null).map((p) => `${p.theme}:${p.name}:${p.weight}:${p.hash.slice(0, 12)}`);
  return themed.length ? { 'theme LoRAs': themed.join(',') } : {};
}

/** The checkpoint, renderer and promoted LoRAs every image of a run shares: the stage's resources. */
export async function renderResources(ctx: Ctx): Promise<Record<string, string>> {
  const merged = await readMerged(ctx.sql);
  const g = withMerged(ctx.params.generate, merged);
  const promoted = { ...promotedResource(await readPromoted(ctx.sql), true), ...mergedResource(merged) };
  if (g.backend !== 'a1111') return { backend: 'synthetic', renderer: SYNTHETIC_VERSION, ...promoted };
  // A pinned checkpoint is in every request already.
  if (g.model) return { backend: 'a1111', model: g.model, ...promoted };
  return { backend: 'a1111', checkpoint: await serverCheckpoint(g.endpoints), ...promoted };
}
