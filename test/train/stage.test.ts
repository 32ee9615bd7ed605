import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeTestContext, runWholeStage } from '../../src/testing.js';
import { loraInfoRow } from '../../schemas/tables.js';
import { readSafetensorsHeader, validateLora } from '../../adapters/safetensors.js';
import train from '../../stages/train/index.js';
import { freshDir, makeDataset, standinDir } from './fixtures.js';

const datasetHash = '0123456789abcdef0123456789abcdef';

function trainContext(settings: Record<string, unknown>, dir = freshDir('train'), tomlResolution: number | null = 512) {
  const dataset = makeDataset(dir, { red_hair: ['sdloop, red hair', 'sdloop, red hair, smiling'], blue_eyes: ['sdloop, blue eyes'] }, 2, tomlResolution);
  const ctx = makeTestContext({ dir, stage: 'train', params: train.params.parse({ train: settings }) });
  ctx.inputs.dataset = { kind: 'path', name: 'dataset', path: dataset, hash: datasetHash };
  return { ctx, dir };
}

async function runTrain(settings: Record<string, unknown>, tomlResolution: number | null = 512) {
  const { ctx, dir } = trainContext(settings, freshDir('train'), tomlResolution);
  const out = (await runWholeStage(train, ctx)) as { lora: { path: string }; lora_info: unknown[] };
  return { out, dir, ctx, row: loraInfoRow.parse(out.lora_info[0]) };
}

const standin = { trainer: 'sd-scripts', sd_scripts_dir: standinDir, launcher: 'python3', base_model: '/models/base.safetensors', max_train_epochs: 4 };
const savedMode = process.env.SDLOOP_STANDIN_MODE;
afterEach(() => {
  process.env.SDLOOP_STANDIN_MODE = savedMode ?? '';
});

describe('train stage, simulated (demo) trainer', () => {
  it('writes a valid, demo-labelled LoRA named after the dataset, and its lora_info row', async () => {
    const { out, row, dir } = await runTrain({ network_dim: 4, network_alpha: 2, max_train_epochs: 3 });
    const file = join(out.lora.path, 'sdloop-0123456789.safetensors');
    expect(await validateLora(file)).toEqual([]);
    const { metadata, tensors } = await readSafetensorsHeader(file);
    expect(metadata).toMatchObject({ sdloop_demo: 'true', ss_output_name: 'sdloop-0123456789', ss_network_dim: '4', ss_num_train_images: '6', ss_steps: '18' });
    expect(JSON.parse(metadata.ss_tag_frequency!)).toEqual({ '2_blue_eyes': { sdloop: 1, 'blue eyes': 1 }, '2_red_hair': { sdloop: 2, 'red hair': 2, smiling: 1 } });
    expect(tensors['lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight']!.shape).toEqual([4, 8]);
    expect(row).toMatchObject({ name: 'sdloop-0123456789', trainer: 'simulated', dim: 4, alpha: 2, images: 3, steps: 18 });
    // lora_info stores the object relative to the project.
    expect(row.path).toMatch(/^data\/objects\//);
    expect(readFileSync(join(dir, row.path)).equals(readFileSync(file))).toBe(true);
  });

  it('writes SDXL as sd-scripts would: 1024 px and its base model version', async () => {
    const { out } = await runTrain({ sdxl: true });
    const { metadata } = await readSafetensorsHeader(join(out.lora.path, 'sdloop-0123456789.safetensors'));
    expect(metadata).toMatchObject({ ss_resolution: '(1024, 1024)', ss_base_model_version: 'sdxl_base_v1-0' });
  });

  it('gives the same bytes for the same dataset and settings', async () => {
    const a = await runTrain({});
    const b = await runTrain({});
    expect(b.row.hash).toBe(a.row.hash);
  });

  it('copies into an A1111 Lora folder and asks A1111 to refresh', async () => {
    const calls: string[] = [];
    const server = createServer((req, res) => {
      calls.push(`${req.method} ${req.url}`);
      res.end('null');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const loraDir = join(freshDir('a1111'), 'models', 'Lora');
    try {
      await runTrain({ deploy: { lora_dir: loraDir, url: `http://127.0.0.1:${port}/` } });
    } finally {
      server.close();
    }
    expect(existsSync(join(loraDir, 'sdloop-0123456789.safetensors'))).toBe(true);
    expect(calls).toEqual(['POST /sdapi/v1/refresh-loras']);
  });
});

describe('train stage, sd-scripts (against the stand-in)', () => {
  it('runs the trainer, keeps the log under data/logs and records steps', async () => {
    const { row, dir } = await runTrain(standin);
    expect(row).toMatchObject({ trainer: 'sd-scripts', steps: 24, images: 3, base_model: '/models/base.safetensors' });
    const { metadata } = await readSafetensorsHeader(join(dir, row.path));
    expect(metadata.sdloop_standin).toBe('true');
    // The stand-in hashes its weights as sd-scripts does: SHA-256 of the bytes after the header.
    const bytes = readFileSync(join(dir, row.path));
    expect(metadata.sshs_model_hash).toBe(createHash('sha256').update(bytes.subarray(8 + Number(bytes.readBigUInt64LE(0)))).digest('hex'));
    expect(readFileSync(join(dir, 'data', 'logs', 'train-sdloop-0123456789.log'), 'utf8')).toContain('model saved.');
  });

  it('passes SDXL defaults the trainer takes: 1024 px (the TOML leaves it to --resolution), bf16, AdamW8bit, sdpa, cached latents, checkpointing', async () => {
    const { row, dir } = await runTrain({ ...standin, sdxl: true }, null);
    const { metadata } = await readSafetensorsHeader(join(dir, row.path));
    expect(metadata).toMatchObject({
      ss_base_model_version: 'sdxl_base_v1-0', ss_resolution: '(1024, 1024)', ss_mixed_precision: 'bf16',
      ss_optimizer: 'bitsandbytes.optim.adamw.AdamW8bit', sdloop_standin_attention: 'sdpa', ss_cache_latents: 'True', ss_gradient_checkpointing: 'True',
    });
    expect(readFileSync(join(dir, 'data', 'logs', 'train-sdloop-0123456789.log'), 'utf8')).not.toContain('WARNING');
  });

  it('passes SD 1.5 defaults (512 px, fp16, no checkpointing), and the flags a user sets', async () => {
    const sd15 = await runTrain(standin, null);
    expect((await readSafetensorsHeader(join(sd15.dir, sd15.row.path))).metadata).toMatchObject({
      ss_resolution: '(512, 512)', ss_mixed_precision: 'fp16', ss_gradient_checkpointing: 'False', ss_cache_latents: 'True',
    });
    const set = await runTrain({ ...standin, optimizer_type: 'Prodigy', attention: 'xformers', cache_latents: false, gradient_checkpointing: true, resolution: 768 }, null);
    expect((await readSafetensorsHeader(join(set.dir, set.row.path))).metadata).toMatchObject({
      ss_resolution: '(768, 768)', ss_optimizer: 'prodigyopt.prodigy.Prodigy', sdloop_standin_attention: 'xformers', ss_cache_latents: 'False', ss_gradient_checkpointing: 'True',
    });
  });

  it('fails, as sd-scripts does, on an optimizer it does not know', async () => {
    await expect(runTrain({ ...standin, optimizer_type: 'AdamQ' })).rejects.toThrow(/exited with code 1[\s\S]*unknown optimizer type: AdamQ/);
  });

  it('fails with the log tail when sd-scripts fails', async () => {
    process.env.SDLOOP_STANDIN_MODE = 'fail';
    await expect(runTrain(standin)).rejects.toThrow(/sd-scripts exited with code 1; full log: .*train-sdloop-0123456789.log\n--- last lines ---\n[\s\S]*no file named diffusion_pytorch_model.bin/);
  });

  it('fails with the step reached when sd-scripts crashes half way', async () => {
    process.env.SDLOOP_STANDIN_MODE = 'crash';
    await expect(runTrain(standin)).rejects.toThrow(/exited with code 1 at step 11\/24[\s\S]*CUDA out of memory/);
  });

  it('kills a stuck run after train.timeout_s', async () => {
    process.env.SDLOOP_STANDIN_MODE = 'hang';
    await expect(runTrain({ ...standin, timeout_s: 1 })).rejects.toThrow(/timed out after 1 s \(train.timeout_s\) and was killed at step 11\/24/);
  });

  it('rejects a LoRA file that fails validation', async () => {
    process.env.SDLOOP_STANDIN_MODE = 'corrupt';
    await expect(runTrain(standin)).rejects.toThrow(/the trained LoRA is not usable:\n.*past the \d+ data bytes in the file/);
  });

  it('asks for sd_scripts_dir and base_model', () => {
    const result = train.params.safeParse({ train: { trainer: 'sd-scripts' } });
    expect(result.success).toBe(false);
    expect(result.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual([
      'train.sd_scripts_dir: expected the path of a kohya-ss/sd-scripts checkout when trainer is sd-scripts',
      'train.base_model: expected the base checkpoint to train on when trainer is sd-scripts',
    ]);
  });
});
