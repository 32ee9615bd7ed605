// train: a LoRA from the dataset stage's kohya folder, with sd-scripts as a child process
// (what real users run) or the simulated demo trainer (the default on a fresh machine).
// The file is validated before it becomes the `lora` output and a `lora_info` row. Once
// `pipeline loop` has merged a winner (loop.promote merge, state table
// merged_checkpoints), every run trains on that checkpoint in place of train.base_model,
// as generate renders with it: the promoted state is one, whoever runs.
import { copyFile, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { produceAtomic } from '../../src/atomic.js';
import { StageFailure, shownPath } from '../../src/errors.js';
import { defineStage, type PathInput, type StageContext } from '../../src/stage.js';
import { storedPath } from '../../src/project.js';
import { loraInfoRow, type LoraInfoRow } from '../../schemas/tables.js';
import { readSafetensorsHeader, validateLora } from '../../adapters/safetensors.js';
import { refreshLoras } from '../../adapters/a1111.js';
import { buildTrainArgv, runTrainer, type TrainProgress } from '../../adapters/sd-scripts.js';
import { countImages, readDatasetFolder, trainingLength, type DatasetSubset } from '../../adapters/kohya-dataset.js';
import { writeSimulatedLora } from '../../demo/simulated-trainer.js';
import { epochFileName, epochFilesIn, savedEpochs, type SavedFile } from './epochs.js';
import { mergedResource, readMerged } from '../generate/promoted.js';

export const trainSettings = z
  .object({
    trainer: z.enum(['simulated', 'sd-scripts']).default('simulated').describe('`simulated` is a demo that trains nothing'),
    sd_scripts_dir: z.string().nullable().default(null).describe('a kohya-ss/sd-scripts checkout'),
    launcher: z.string().min(1).default('accelerate').describe('`accelerate` (accelerate launch) or the path of a python'),
    base_model: z.string().nullable().default(null).describe('checkpoint file or Diffusers folder to train on'),
    sdxl: z.boolean().default(false).describe('sdxl_train_network.py instead of train_network.py'),
    network_dim: z.number().int().positive().default(16),
    network_alpha: z.number().positive().default(8),
    learning_rate: z.number().positive().default(1e-4),
    max_train_epochs: z.number().int().positive().default(10),
    max_train_steps: z.number().int().positive().nullable().default(null).describe('overrides max_train_epochs when set'),
    save_every_n_epochs: z.number().int().positive().nullable().default(null)
      .describe('also keep the LoRA saved after every N-th epoch; benchmark tries each one and keeps the best'),
    resolution: z.number().int().positive().nullable().default(null).describe('null: 1024 with sdxl, else 512'),
    mixed_precision: z.enum(['no', 'fp16', 'bf16']).nullable().default(null).describe('null: bf16 with sdxl (fp16 overflows in its VAE), else fp16'),
    optimizer_type: z.string().min(1).default('AdamW8bit').describe("sd-scripts' --optimizer_type; AdamW8bit needs bitsandbytes"),
    attention: z.enum(['sdpa', 'xformers', 'none']).default('sdpa').describe("--sdpa (PyTorch 2's own), --xformers, or neither"),
    cache_latents: z.boolean().default(true).describe('--cache_latents: encode each image once, not every epoch'),
    gradient_checkpointing: z.boolean().nullable().default(null).describe('null: on with sdxl (to fit 12-24 GB), else off (faster)'),
    extra_args: z.array(z.string()).default([]).describe('appended to the sd-scripts argv as they are'),
    timeout_s: z.number().positive().default(21600).describe('a run past this is killed and fails'),
    simulated_collapse: z.number().min(0).max(1).default(0)
      .describe('DEMO, simulated trainer only: the share of its renders that collapse to one picture per prompt, to see the diversity guard refuse it'),
    name_prefix: z.string().regex(/^[\w.-]+$/, 'letters, digits, _ . or -').default('sdloop'),
    deploy: z
      .object({
        lora_dir: z.string().describe("the WebUI's models/Lora folder (relative to the project, or absolute)"),
        url: z.string().url().nullable().default(null).describe('the WebUI to POST /sdapi/v1/refresh-loras to after copying'),
      })
      .nullable()
      .default(null)
      .describe('copy the LoRA where the A1111 WebUI finds it; benchmark then confirms the WebUI lists it'),
  })
  .superRefine((t, issue) => {
    if (t.trainer !== 'sd-scripts') return;
    if (!t.sd_scripts_dir) issue.addIssue({ code: 'custom', path: ['sd_scripts_dir'], message: 'expected the path of a kohya-ss/sd-scripts checkout when trainer is sd-scripts' });
    if (!t.base_model) issue.addIssue({ code: 'custom', path: ['base_model'], message: 'expected the base checkpoint to train on when trainer is sd-scripts' });
  });
export type TrainSettings = z.infer<typeof trainSettings>;

/** The settings left null, as they default for the model family (SDXL or SD 1.5). */
export function familyDefaults(t: TrainSettings): { resolution: number; mixedPrecision: 'no' | 'fp16' | 'bf16'; gradientCheckpointing: boolean } {
  return {
    resolution: t.resolution ?? (t.sdxl ? 1024 : 512),
    mixedPrecision: t.mixed_precision ?? (t.sdxl ? 'bf16' : 'fp16'),
    gradientCheckpointing: t.gradient_checkpointing ?? t.sdxl,
  };
}

const params = z.object({ train: trainSettings.prefault({}) });
type Params = z.infer<typeof params>;


export function loraNameFor(prefix: string, datasetHash: string): string {
  return `${prefix}-${datasetHash.slice(0, 10)}`;
}

/** The final file first, then the earlier epochs' files, as sd-scripts names them. */
async function trainSimulated(ctx: StageContext<Params>, subsets: DatasetSubset[], name: string, datasetHash: string, outDir: string, baseModel: string): Promise<SavedFile[]> {
  const t = ctx.params.train;
  const { steps, epochs } = trainingLength(subsets, { maxTrainEpochs: t.max_train_epochs, maxTrainSteps: t.max_train_steps });
  ctx.log(`simulated trainer (demo): ${steps} steps written, none trained`);
  const saved: SavedFile[] = [];
  for (const epoch of [epochs, ...savedEpochs(epochs, t.save_every_n_epochs)]) {
    const fileName = epoch === epochs ? name : epochFileName(name, epoch);
    const file = join(outDir, `${fileName}.safetensors`);
    const stepsThen = Math.round((steps * epoch) / epochs);
    await writeSimulatedLora(file, {
      name, subsets, datasetHash, steps: stepsThen, epochs, epoch,
      dim: t.network_dim, alpha: t.network_alpha, learningRate: t.learning_rate,
      baseModel, resolution: familyDefaults(t).resolution, sdxl: t.sdxl, collapse: t.simulated_collapse,
    });
    saved.push({ name: fileName, file, epoch, steps: stepsThen });
  }
  ctx.progress(steps, steps, 'steps');
  return saved;
}

function describeFailure(result: Awaited<ReturnType<typeof runTrainer>>, timeoutS: number, projectDir: string): string {
  const why = result.startError
    ?? (result.timedOut ? `timed out after ${timeoutS} s (train.timeout_s) and was killed`
      : result.aborted ? 'was interrupted'
      : `exited with code ${result.exitCode}${result.signal ? ` (signal ${result.signal})` : ''}`);
  const at = result.progress.total ? ` at step ${result.progress.step}/${result.progress.total}` : '';
  return `sd-scripts ${why}${at}; full log: ${shownPath(projectDir, result.logPath)}\n--- last lines ---\n${result.tail}`;
}

async function trainWithSdScripts(ctx: StageContext<Params>, datasetDir: string, name: string, baseModel: string): Promise<SavedFile[]> {
  const t = ctx.params.train;
  const outputDir = join(ctx.dataDir, 'work', 'train', name);
  await rm(outputDir, { recursive: true, force: true });
  const family = familyDefaults(t);
  const argv = buildTrainArgv({
    sdScriptsDir: resolve(ctx.projectDir, t.sd_scripts_dir!),
    launcher: t.launcher,
    sdxl: t.sdxl,
    baseModel: resolve(ctx.projectDir, baseModel),
    datasetConfig: join(datasetDir, 'dataset.toml'),
    outputDir,
    outputName: name,
    networkDim: t.network_dim,
    networkAlpha: t.network_alpha,
    learningRate: t.learning_rate,
    maxTrainEpochs: t.max_train_epochs,
    maxTrainSteps: t.max_train_steps,
    resolution: family.resolution,
    mixedPrecision: family.mixedPrecision,
    optimizerType: t.optimizer_type,
    attention: t.attention,
    cacheLatents: t.cache_latents,
    gradientCheckpointing: family.gradientCheckpointing,
    extraArgs: [...(t.save_every_n_epochs ? [`--save_every_n_epochs=${t.save_every_n_epochs}`] : []), ...t.extra_args],
  });
  const logPath = join(ctx.dataDir, 'logs', `train-${name}.log`);
  ctx.log(`sd-scripts: ${argv.command} ${argv.args.join(' ')} (log: ${shownPath(ctx.projectDir, logPath)})`);
  let lastEpoch: number | null = null;
  const result = await runTrainer({
    argv,
    // sd-scripts resolves a relative image_dir in the TOML against its working directory.
    cwd: datasetDir,
    logPath,
    timeoutMs: t.timeout_s * 1000,
    signal: ctx.signal,
    onProgress(p: TrainProgress) {
      if (p.total) ctx.progress(p.step, p.total, 'steps');
      if (p.epoch !== null && p.epoch !== lastEpoch) {
        lastEpoch = p.epoch;
        ctx.log(`epoch ${p.epoch}/${p.epochs ?? '?'}${p.loss !== null ? `, avr_loss ${p.loss}` : ''}`);
      }
    },
  });
  if (!result.ok) throw new StageFailure(ctx.stage, describeFailure(result, t.timeout_s, ctx.projectDir));
  const file = join(outputDir, `${name}.safetensors`);
  if (!(await stat(file).catch(() => null))) {
    throw new StageFailure(ctx.stage, `sd-scripts exited 0 but wrote no ${shownPath(ctx.projectDir, file)}; full log: ${shownPath(ctx.projectDir, logPath)}\n--- last lines ---\n${result.tail}`);
  }
  const { metadata } = await readSafetensorsHeader(file);
  const steps = result.progress.total ?? Number(metadata.ss_steps ?? 0);
  const epochs = Number(metadata.ss_epoch) || result.progress.epochs || t.max_train_epochs;
  const earlier = await Promise.all((await epochFilesIn(outputDir, name)).map(async (e) => {
    const path = join(outputDir, `${e.name}.safetensors`);
    return { ...e, file: path, steps: Number((await readSafetensorsHeader(path)).metadata.ss_steps ?? 0) };
  }));
  return [{ name, file, epoch: epochs, steps }, ...earlier];
}

/** Copy into A1111's models/Lora and ask it to rescan; a failure here does not lose the LoRA. */
async function publishToA1111(ctx: StageContext<Params>, file: string, name: string): Promise<void> {
  const deploy = ctx.params.train.deploy;
  if (!deploy) return;
  const target = join(resolve(ctx.projectDir, deploy.lora_dir), `${name}.safetensors`);
  await produceAtomic(target, (tmp) => copyFile(file, tmp));
  ctx.log(`copied to ${target}`);
  if (!deploy.url) return;
  // A refresh that fails is not the end: the WebUI may pick the file up on its own, and
  // benchmark checks /sdapi/v1/loras before it renders anything with it.
  await refreshLoras(deploy.url).catch((error: Error) => ctx.warn(`${error.message}; refresh LoRAs in the WebUI by hand`));
}

export default defineStage<Params>({
  description: 'Train a LoRA on the dataset folder (sd-scripts, or the simulated demo trainer)',
  // 2: lora_info has a row per saved epoch, with its epoch
  version: '2',
  params,
  outputs: {
    lora: { kind: 'path' },
    lora_info: { kind: 'table', schema: loraInfoRow, runFacts: ['duration_s'], key: ['name'] },
  },
  resourceLabels: { trainer: 'the trainer (train.trainer)', base_model: 'the base model (train.base_model)', merged_checkpoint: 'the checkpoint the loop merged (loop.promote merge)' },
  async resources(ctx): Promise<Record<string, string>> {
    const t = ctx.params.train;
    const merged = await readMerged(ctx.sql);
    // A merged checkpoint is named by its content hash: it replaces train.base_model.
    if (merged) return { trainer: t.trainer, ...mergedResource(merged) };
    if (t.trainer === 'simulated') return { trainer: 'simulated' };
    // Size and mtime stand for the checkpoint: hashing gigabytes on every status is too slow.
    const base = resolve(ctx.projectDir, t.base_model!);
    const info = await stat(base).catch(() => null);
    return { trainer: 'sd-scripts', base_model: info ? `${base}:${info.size}:${info.mtimeMs}` : `${base}:missing` };
  },
  async run(ctx) {
    const t = ctx.params.train;
    const dataset = ctx.inputs.dataset as PathInput | undefined;
    if (dataset?.kind !== 'path') throw new StageFailure(ctx.stage, 'expected an input `dataset`: the dataset stage\'s folder (a path output)');
    const subsets = await readDatasetFolder(dataset.path);
    const images = countImages(subsets);
    if (images === 0) throw new StageFailure(ctx.stage, `the dataset ${shownPath(ctx.projectDir, dataset.path)} holds no images: nothing to train on (did select pick anything?)`);
    const name = loraNameFor(t.name_prefix, dataset.hash);
    // A fresh folder of this run: the LoRA pipeline.lock names stays in place until this one is verified and recorded.
    const outDir = ctx.outDir('lora');
    const merged = await readMerged(ctx.sql);
    const baseModel = merged?.path ?? t.base_model ?? 'sdloop-synthetic (demo)';
    const started = Date.now();
    const saved = t.trainer === 'simulated'
      ? await trainSimulated(ctx, subsets, name, dataset.hash, outDir, baseModel)
      : await trainWithSdScripts(ctx, dataset.path, name, baseModel);
    const duration = (Date.now() - started) / 1000;
    const rows: LoraInfoRow[] = [];
    for (const s of saved) {
      const problems = await validateLora(s.file);
      if (problems.length > 0) throw new StageFailure(ctx.stage, `the trained LoRA is not usable:\n${problems.join('\n')}`);
      const target = join(outDir, `${s.name}.safetensors`);
      if (s.file !== target) await produceAtomic(target, (tmp) => copyFile(s.file, tmp));
      const object = await ctx.store.putFile(target, 'safetensors');
      await publishToA1111(ctx, target, s.name);
      rows.push({
        name: s.name,
        hash: object.hash,
        path: storedPath(ctx.projectDir, object.path),
        trainer: t.trainer,
        dim: t.network_dim,
        alpha: t.network_alpha,
        images,
        steps: s.steps,
        base_model: baseModel,
        duration_s: duration,
        epoch: s.epoch,
      });
    }
    return { lora: { path: outDir }, lora_info: rows };
  },
});
