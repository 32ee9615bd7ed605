// loop.promote: merge. Instead of joining the stack of LoRAs every prompt carries, the
// winner is folded into a new checkpoint with sd-scripts' own merge script
// (networks/merge_lora.py, or sdxl_merge_lora.py with train.sdxl) at the weight the
// benchmark chose; with the simulated trainer, the demo's simulated merge writes a
// checkpoint that acts in the synthetic world as the LoRA at that weight. Each merge
// builds on the last merged checkpoint, else on train.base_model; the result is verified
// as a safetensors file before it is recorded. From then on it is project state:
// generate pins it and train builds on it (both read merged_checkpoints, so a plain
// `pipeline run` uses it too). With loop.checkpoint_dir it is copied into the WebUI's
// checkpoint folder and, with A1111, confirmed listed by /sdapi/v1/sd-models before it
// is recorded.
import { existsSync } from 'node:fs';
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { CommandContext } from '../src/command.js';
import { hashFile } from '../src/hash.js';
import { storedPath } from '../src/project.js';
import { shownPath } from '../src/errors.js';
import type { LoraInfoRow, MergedCheckpointRow } from '../schemas/tables.js';
import { runMerge } from '../adapters/sd-scripts-merge.js';
import { checkServer, refreshCheckpoints } from '../adapters/a1111.js';
import { produceAtomic } from '../src/atomic.js';
import { generateParams } from '../stages/generate/backend.js';
import { loopSettings } from './loop-settings.js';
import { trainSettings } from '../stages/train/index.js';
import { mergedCheckpoints } from './loop-state.js';
import { writeSimulatedMerge } from '../demo/simulated-merge.js';
import { SYNTHETIC_MODEL } from '../demo/synthetic.js';

/** How a winner is merged: sd-scripts' script on a checkpoint file, or (simulated trainer) the demo's simulated merge. */
export function mergeSetup(ctx: CommandContext) {
  const t = trainSettings.parse(ctx.params.train ?? {});
  if (t.trainer === 'simulated') return { simulated: true as const, baseModel: t.base_model && resolve(ctx.projectDir, t.base_model) };
  // trainSettings requires both with sd-scripts, so a pipeline.yaml without them never gets here.
  return { simulated: false as const, sdScriptsDir: resolve(ctx.projectDir, t.sd_scripts_dir!), launcher: t.launcher, sdxl: t.sdxl, baseModel: resolve(ctx.projectDir, t.base_model!), timeoutS: t.timeout_s };
}

/** Folds the LoRA into `base` (null: the synthetic world's own model) as `saveTo`; says why the result is not a checkpoint, if it is not. */
async function merge(ctx: CommandContext, base: string | null, lora: { name: string; path: string; ratio: number }, saveTo: string, logPath: string): Promise<string[]> {
  const setup = mergeSetup(ctx);
  if (setup.simulated) {
    await writeSimulatedMerge({ base, lora, saveTo });
    return [];
  }
  const { problems } = await runMerge(
    { sdScriptsDir: setup.sdScriptsDir, launcher: setup.launcher, sdxl: setup.sdxl, sdModel: base!, saveTo, loras: [{ path: lora.path, ratio: lora.ratio }], savePrecision: 'fp16' },
    { cwd: setup.sdScriptsDir, logPath, timeoutMs: setup.timeoutS * 1000 },
  );
  return problems;
}

export async function mergeWinner(ctx: CommandContext, info: LoraInfoRow, weight: number, round: number, when: Date): Promise<MergedCheckpointRow> {
  const setup = mergeSetup(ctx);
  const last = (await mergedCheckpoints(ctx.sql)).at(-1);
  const base = last ? resolve(ctx.projectDir, last.path) : setup.baseModel;
  const name = `${info.name}-merged`;
  const dir = join(ctx.dataDir, 'models', 'checkpoints');
  await mkdir(dir, { recursive: true });
  const saveTo = join(dir, `${name}.safetensors`);
  const logPath = join(ctx.dataDir, 'logs', `merge-${name}.log`);
  const into = base ? shownPath(ctx.projectDir, base) : 'the synthetic model (simulated merge, demo)';
  const shownLog = shownPath(ctx.projectDir, logPath);
  ctx.stdout(`merging ${info.name} at ${weight} into ${into}${setup.simulated ? '' : ` (log: ${shownLog})`}\n`);
  const problems = await merge(ctx, base, { name: info.name, path: resolve(ctx.projectDir, info.path), ratio: weight }, saveTo, logPath);
  if (problems.length) {
    // A half-written checkpoint is ours to remove; nothing is recorded for it.
    await rm(saveTo, { force: true });
    throw new Error(`merging ${info.name} into ${into} failed: ${problems.join('; ')}; full log: ${shownLog}`);
  }
  return { name, path: storedPath(ctx.projectDir, saveTo), hash: await hashFile(saveTo), base: base ? storedPath(ctx.projectDir, base) : SYNTHETIC_MODEL, lora: info.name, ratio: weight, round, merged_at: when.toISOString() };
}

/**
 * Put the merged checkpoint where the WebUI finds it (loop.checkpoint_dir) and confirm it
 * is listed, so the next round's pinned model is not refused. Never overwrites a file it
 * did not write. Returns what the round's reason adds (what is left for the user to do).
 */
export async function deployMerged(ctx: CommandContext, merged: MergedCheckpointRow): Promise<string> {
  const { checkpoint_dir: dir } = loopSettings.parse(ctx.params.loop ?? {});
  const g = generateParams.parse(ctx.params.generate ?? {});
  if (!dir) {
    return g.backend === 'a1111'
      ? `; copy it into the WebUI's models/Stable-diffusion folder (or set loop.checkpoint_dir to that folder): the next run pins it as generate.model ${merged.name}`
      : '';
  }
  const target = join(resolve(ctx.projectDir, dir), `${merged.name}.safetensors`);
  if (existsSync(target) && (await hashFile(target)) !== merged.hash) {
    throw new Error(`${target} exists with other content and is not sdloop's to overwrite: move it away, or set loop.checkpoint_dir to another folder`);
  }
  await mkdir(resolve(ctx.projectDir, dir), { recursive: true });
  await produceAtomic(target, (tmp) => copyFile(resolve(ctx.projectDir, merged.path), tmp));
  if (g.backend !== 'a1111') return `; copied to ${target}`;
  for (const endpoint of g.endpoints) {
    try {
      await refreshCheckpoints(endpoint);
      await checkServer(endpoint, merged.name);
    } catch (error) {
      throw new Error(`the WebUI at ${endpoint} does not list ${merged.name} after it was copied to ${target} and the checkpoints refreshed (${(error as Error).message}): set loop.checkpoint_dir to that WebUI's models/Stable-diffusion folder`);
    }
  }
  return `; copied to ${target}, listed by ${g.endpoints.join(', ')}`;
}
