// The synthetic world behind the A1111 stand-in's API: a `render` hook that draws each
// txt2img as the synthetic backend would draw the planned row it was sent for, with the
// LoRAs its prompt names read from the WebUI's models/Lora folder and the checkpoint it
// pins read from models/Stable-diffusion. So a whole loop can run over HTTP, with the
// WebUI's folders, refreshes and listings, and still see a LoRA's effect.
import { renderSynthetic } from '../../demo/synthetic.js';
import { loadSyntheticCheckpoint, loraLoader, type SyntheticCheckpoint } from '../../demo/synthetic-lora.js';
import type { AxisAlternativesRow, PromptRow } from '../../schemas/tables.js';
import type { StandInModel } from './a1111-server.js';

const withoutLoraTags = (prompt: string) => prompt.replace(/,?\s*<lora:[^>]*>/gi, '').trim();

export interface SyntheticWebUIOptions {
  /** every row a run may send (resolve's planned rows, the benchmark's), found by prompt text */
  rows: PromptRow[];
  alternatives: Map<string, AxisAlternativesRow>;
  loraDir: string;
  checkpointDir: string;
  failureRate: number;
  blankRate: number;
}

export function syntheticWebUI(o: SyntheticWebUIOptions) {
  const byPrompt = new Map(o.rows.map((r) => [r.api_prompt, r]));
  const checkpoints = new Map<string, Promise<SyntheticCheckpoint | null>>();
  // A checkpoint the stand-in ships (not a file in the folder) is the synthetic base.
  const checkpointOf = (model: StandInModel) => {
    if (!checkpoints.has(model.model_name)) checkpoints.set(model.model_name, loadSyntheticCheckpoint(model.model_name, [o.checkpointDir]).catch(() => null));
    return checkpoints.get(model.model_name)!;
  };
  return async (body: Record<string, unknown>, model: StandInModel, seeds: number[]): Promise<Buffer[]> => {
    const prompt = String(body.prompt ?? '');
    const row = byPrompt.get(withoutLoraTags(prompt));
    if (!row) throw new Error(`the synthetic WebUI has no planned row for the prompt ${JSON.stringify(prompt)}`);
    // A1111 reads LoRAs as the folder lists them when the request arrives.
    const lora = loraLoader([o.loraDir]);
    const checkpoint = await checkpointOf(model);
    const params = { ...row.params, width: body.width ?? row.params.width, height: body.height ?? row.params.height };
    return Promise.all(seeds.map(async (seed) => (await renderSynthetic({ ...row, api_prompt: prompt, seed, params }, {
      failureRate: o.failureRate, valueFailureRates: {}, blankRate: o.blankRate, lora, alternatives: (id) => o.alternatives.get(id), checkpoint,
    })).png));
  };
}
