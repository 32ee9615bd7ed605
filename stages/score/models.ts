// Where the scorer's CLIP models are and what identifies them: all that status and the
// stage fingerprint need, without loading the scorer itself (sharp, ONNX Runtime, the
// preprocessing pool), which a no-op never uses.
import { isAbsolute, join, resolve } from 'node:path';
import type { FileHasher } from '../../adapters/clip-onnx.js';
import { ensureDemoModel } from '../../demo/clip-model.js';
import type { ScoreParams } from './params.js';

export interface ScorerOptions {
  projectDir: string;
  /** where the demo model is written; defaults to <projectDir>/data */
  dataDir?: string;
  /** where embeddings and VQA answers are kept across runs (embedding-memo.ts, vqa.ts); none kept without it */
  cacheDir?: string;
}

/** `demo` is the built-in demo model (written on first use); anything else a CLIP folder. */
export async function resolveModelDir(model: string, options: ScorerOptions): Promise<string> {
  if (model === 'demo') return ensureDemoModel(options.dataDir ?? join(options.projectDir, 'data'));
  return isAbsolute(model) ? model : resolve(options.projectDir, model);
}

/** Identities of the models in use, for the stage fingerprint. */
export async function scorerResources(params: ScoreParams, options: ScorerOptions & { fileHash: FileHasher }): Promise<Record<string, string>> {
  const { modelIdentity } = await import('../../adapters/clip-onnx.js');
  const out: Record<string, string> = { model: await modelIdentity(await resolveModelDir(params.model, options), params.variant, options.fileHash) };
  if (params.fallback_model) out.fallback_model = await modelIdentity(await resolveModelDir(params.fallback_model, options), params.variant, options.fileHash);
  return out;
}
