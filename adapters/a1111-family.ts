// Which model family a checkpoint on an A1111 server belongs to, for the image size a
// request gets when its prompt file sets none: SDXL renders 1024x1024 natively, SD 1.5
// 512x512 (either at the other's size gives doubled heads or mush). The API does not say
// the architecture, so, in order: the checkpoint file's own header when the server's
// `filename` is readable from here (a WebUI on this machine): `modelspec.architecture`,
// else SDXL's second text encoder among the tensor names; else the checkpoint's name
// (`xl`, `sdxl`, `pony`, `illustrious`, `noob` as a word); else SD 1.5.
import { readSafetensorsHeader } from './safetensors.js';
import { request } from './a1111-http.js';
import type { SdModel } from './a1111.js';

export type ModelFamily = 'sd15' | 'sdxl';

/** The native square size of each family. */
export const familySize: Record<ModelFamily, number> = { sd15: 512, sdxl: 1024 };

export interface FamilyGuess {
  family: ModelFamily;
  /** how it was told, for the log: "header of /models/x.safetensors", "name", "default" */
  how: string;
}

/** SDXL and the families trained from it, as their checkpoints are named: `sd_xl_base`, `juggernautXL_v9`, `ponyDiffusionV6XL`. */
const xlWord = /^(sdxl|xl|pony\w*|illustrious\w*|noob\w*)$|xl(v?\d+)?$/;

/** From the checkpoint's title, name or file name alone: a word of it names an SDXL family. */
export function familyFromName(name: string): ModelFamily {
  const stem = name.replace(/\s*\[[0-9a-f]+\]\s*$/i, '').replace(/\.(safetensors|ckpt)$/i, '').split(/[\\/]/).pop()!;
  return stem.toLowerCase().split(/[^a-z0-9]+/).some((word) => xlWord.test(word)) ? 'sdxl' : 'sd15';
}

/** From a .safetensors checkpoint's header; null when the file cannot be read here or says nothing. */
export async function familyFromFile(path: string): Promise<ModelFamily | null> {
  if (!path.endsWith('.safetensors')) return null;
  const header = await readSafetensorsHeader(path).catch(() => null);
  if (!header) return null;
  const architecture = header.metadata['modelspec.architecture'];
  if (architecture) return architecture.startsWith('stable-diffusion-xl') ? 'sdxl' : 'sd15';
  const names = Object.keys(header.tensors);
  if (names.some((n) => n.startsWith('conditioner.embedders.1.'))) return 'sdxl';
  if (names.some((n) => n.startsWith('cond_stage_model.'))) return 'sd15';
  return null;
}

function matches(model: SdModel, wanted: string): boolean {
  return [model.title, model.model_name, model.hash, model.sha256, model.filename.split(/[\\/]/).pop()].some((v) => v && v === wanted.trim());
}

/** The family of the pinned checkpoint, or of the one loaded on the server when none is pinned. */
export async function checkpointFamily(endpoint: string, pinned: string | null, timeoutMs = 10_000): Promise<FamilyGuess> {
  const wanted = pinned ?? ((await request(endpoint, '/sdapi/v1/options', {}, { timeoutMs })) as { sd_model_checkpoint?: string }).sd_model_checkpoint ?? '';
  const models = (await request(endpoint, '/sdapi/v1/sd-models', {}, { timeoutMs })) as SdModel[];
  const model = models.find((m) => matches(m, wanted));
  const fromFile = model ? await familyFromFile(model.filename) : null;
  if (fromFile) return { family: fromFile, how: `the header of ${model!.filename}` };
  const name = model?.title ?? wanted;
  if (!name) return { family: 'sd15', how: 'default (the server names no checkpoint)' };
  return { family: familyFromName(name), how: `the name ${JSON.stringify(name)}` };
}
