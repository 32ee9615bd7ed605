// What defines a rendered image, per planned prompt: the request exactly as the backend
// receives it and the content of the LoRAs it names. Session names, file names, the
// manifest snapshot, the prompt file's other values and the retry settings are not in
// it, so none of them can re-render an image. The checkpoint and the renderer's version
// come in as the stage's resources.
import { isAbsolute, resolve } from 'node:path';
import { lorasInPrompt, parseLoraSpec, txt2imgPayload, withLoras } from '../../adapters/a1111.js';
import { loraLoader } from '../../demo/synthetic-lora.js';
import { SYNTHETIC_VERSION, syntheticIdentity } from '../../demo/synthetic.js';
import { findLoraFile } from '../../adapters/safetensors.js';
import type { StageContext } from '../../src/stage.js';
import type { PromptRow } from '../../schemas/tables.js';
import type { GenerateParams } from './backend.js';
import { promotedResource, readPromoted, withPromoted } from './promoted.js';

type Ctx = StageContext<{ generate: GenerateParams }>;

const loraDirs = (g: GenerateParams, projectDir: string) => g.lora_dirs.map((d) => (isAbsolute(d) ? d : resolve(projectDir, d)));

/**
 * Content hash of a LoRA found in generate.lora_dirs, through the stat cache. A LoRA that
 * lives only on the A1111 server cannot be hashed here: its name stands for it (null).
 */
function loraHasher(g: GenerateParams, ctx: Ctx): (name: string) => Promise<string | null> {
  const cache = new Map<string, Promise<string | null>>();
  const dirs = loraDirs(g, ctx.projectDir);
  return (name) => {
    let hash = cache.get(name);
    if (!hash) cache.set(name, (hash = findLoraFile(name, dirs).then((path) => ctx.fileHash(path), () => null)));
    return hash;
  };
}

async function a1111Identities(rows: PromptRow[], g: GenerateParams, ctx: Ctx): Promise<unknown[]> {
  const extra = g.loras.map(parseLoraSpec);
  const loraHash = loraHasher(g, ctx);
  return Promise.all(
    rows.map(async (row) => {
      const request = txt2imgPayload(row, { model: g.model, loras: extra });
      const loras = await Promise.all(lorasInPrompt(String(request.prompt)).map(async (l) => [l.name, await loraHash(l.name)]));
      return { request, loras };
    }),
  );
}

async function syntheticIdentities(rows: PromptRow[], g: GenerateParams, ctx: Ctx): Promise<unknown[]> {
  const extra = g.loras.map(parseLoraSpec);
  const lora = loraLoader(loraDirs(g, ctx.projectDir));
  const options = { failureRate: g.failure_rate, valueFailureRates: g.value_failure_rates, blankRate: g.blank_rate, lora };
  return Promise.all(
    rows.map((row) =>
      // A LoRA that cannot be loaded fails the render: the error is then what the item is.
      syntheticIdentity({ ...row, api_prompt: withLoras(row.api_prompt, extra) }, options).catch((error: Error) => ({ unrenderable: error.message })),
    ),
  );
}

/** Each row's identity, with the promoted LoRAs in the request as the backend will send them. */
export async function renderIdentities(rows: PromptRow[], ctx: Ctx): Promise<unknown[]> {
  const g = withPromoted(ctx.params.generate, await readPromoted(ctx.sql));
  return g.backend === 'a1111' ? a1111Identities(rows, g, ctx) : syntheticIdentities(rows, g, ctx);
}

/** The checkpoint, renderer and promoted LoRAs every image of a run shares: the stage's resources. */
export async function renderResources(ctx: Ctx): Promise<Record<string, string>> {
  const g = ctx.params.generate;
  const promoted = promotedResource(await readPromoted(ctx.sql));
  if (g.backend === 'a1111') return { backend: 'a1111', model: g.model ?? 'as loaded on the server', ...promoted };
  return { backend: 'synthetic', renderer: SYNTHETIC_VERSION, ...promoted };
}
