import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ProgressParser, buildTrainArgv, parseProgressLine, runTrainer, type TrainArgvOptions } from '../../adapters/sd-scripts.js';
import { readSafetensorsHeader, validateLora } from '../../adapters/safetensors.js';
import { freshDir, makeDataset, standinDir } from '../train/fixtures.js';

const base: TrainArgvOptions = {
  sdScriptsDir: '/opt/sd-scripts',
  launcher: 'accelerate',
  sdxl: false,
  baseModel: '/models/v1-5 pruned.safetensors',
  datasetConfig: '/d/dataset.toml',
  outputDir: '/out',
  outputName: 'sdloop-abc',
  networkDim: 16,
  networkAlpha: 8,
  learningRate: 1e-4,
  maxTrainEpochs: 10,
  maxTrainSteps: null,
  resolution: 512,
  mixedPrecision: 'fp16',
  optimizerType: 'AdamW8bit',
  attention: 'sdpa',
  cacheLatents: true,
  gradientCheckpointing: false,
  extraArgs: [],
};

describe('buildTrainArgv', () => {
  it('launches train_network.py through accelerate with the documented options', () => {
    expect(buildTrainArgv(base)).toEqual({
      command: 'accelerate',
      args: [
        'launch', '--num_cpu_threads_per_process', '1', '/opt/sd-scripts/train_network.py',
        '--pretrained_model_name_or_path=/models/v1-5 pruned.safetensors',
        '--dataset_config=/d/dataset.toml', '--output_dir=/out', '--output_name=sdloop-abc',
        '--save_model_as=safetensors', '--network_module=networks.lora', '--network_dim=16',
        '--network_alpha=8', '--learning_rate=0.0001', '--max_train_epochs=10',
        '--resolution=512,512', '--mixed_precision=fp16', '--optimizer_type=AdamW8bit', '--sdpa', '--cache_latents',
      ],
    });
  });

  it('uses a python path directly, sdxl_train_network.py, steps over epochs, and extra args verbatim', () => {
    const argv = buildTrainArgv({ ...base, launcher: '/venv/bin/python', sdxl: true, maxTrainSteps: 300, resolution: 1024, mixedPrecision: 'bf16', extraArgs: ['--seed=1', '--network_args', 'conv_dim=4; rm -rf /'] });
    expect(argv.command).toBe('/venv/bin/python');
    expect(argv.args[0]).toBe('/opt/sd-scripts/sdxl_train_network.py');
    expect(argv.args).toContain('--max_train_steps=300');
    expect(argv.args.some((a) => a.startsWith('--max_train_epochs'))).toBe(false);
    expect(argv.args).toContain('--resolution=1024,1024');
    expect(buildTrainArgv({ ...base, attention: 'xformers', cacheLatents: false, gradientCheckpointing: true }).args.slice(-3)).toEqual(['--optimizer_type=AdamW8bit', '--xformers', '--gradient_checkpointing']);
    expect(argv.args.slice(-3)).toEqual(['--seed=1', '--network_args', 'conv_dim=4; rm -rf /']);
  });
});

describe('progress parsing', () => {
  it('reads step, total, rate and loss from a tqdm line', () => {
    expect(parseProgressLine('steps:  10%|█         | 160/1600 [01:23<12:34,  1.9it/s, avr_loss=0.0912]')).toEqual({ kind: 'steps', step: 160, total: 1600, itPerSec: 1.9, loss: 0.0912 });
    expect(parseProgressLine('steps:   0%|          | 0/1600 [00:00<?, ?it/s]')).toEqual({ kind: 'steps', step: 0, total: 1600, itPerSec: null, loss: null });
    expect(parseProgressLine('steps:  50%|█████     | 5/10 [00:10<00:10,  2.00s/it, avr_loss=nan]')).toMatchObject({ step: 5, itPerSec: 0.5, loss: NaN });
  });

  it('reads totals, epochs, checkpoints and the end', () => {
    expect(parseProgressLine('  total optimization steps / 学習ステップ数: 1600')).toEqual({ kind: 'total', steps: 1600 });
    expect(parseProgressLine('epoch 3/10')).toEqual({ kind: 'epoch', epoch: 3, epochs: 10 });
    expect(parseProgressLine('saving checkpoint: /out/x.safetensors')).toEqual({ kind: 'saved', path: '/out/x.safetensors' });
    expect(parseProgressLine('model saved.')).toEqual({ kind: 'done' });
    expect(parseProgressLine('loading VAE from checkpoint')).toBeNull();
  });

  it('joins pieces cut between chunks and splits on \\r', () => {
    const parser = new ProgressParser();
    expect(parser.push('\rsteps:  1%|  | 1/100 [00:01<01:39,  1.0it/s, avr_lo')).toEqual([]);
    const events = parser.push('ss=0.5]\rsteps:  2%|  | 2/100 [00:02<01:38,  1.0it/s, avr_loss=0.4]\r');
    expect(events.map((e) => (e.kind === 'steps' ? [e.step, e.loss] : e.kind))).toEqual([[1, 0.5], [2, 0.4]]);
    expect(parser.push('model saved.')).toEqual([]);
    expect(parser.end()).toEqual([{ kind: 'done' }]);
  });
});

function standinRun(mode: string, extra: Partial<{ timeoutMs: number; launcher: string; pidFile: string }> = {}) {
  const dir = freshDir('sd-scripts');
  const dataset = makeDataset(dir, { red_hair: ['sdloop, red hair', 'sdloop, red hair, smiling'], blue_eyes: ['sdloop, blue eyes'] });
  const argv = buildTrainArgv({ ...base, sdScriptsDir: standinDir, launcher: extra.launcher ?? 'python3', datasetConfig: join(dataset, 'dataset.toml'), outputDir: join(dir, 'out'), maxTrainEpochs: 4 });
  const env = { ...process.env, SDLOOP_STANDIN_MODE: mode, SDLOOP_STANDIN_CHILD_PID_FILE: extra.pidFile ?? '' };
  const seen: number[] = [];
  const run = runTrainer({ argv, cwd: dataset, env, logPath: join(dir, 'logs', 'train.log'), timeoutMs: extra.timeoutMs ?? 60_000, killGraceMs: 500, onProgress: (p) => seen.push(p.step) });
  return { dir, run, seen };
}

/** Running, as opposed to gone or a zombie that no init has reaped yet. */
function alive(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]![0] !== 'Z';
  } catch {
    return false;
  }
}

describe('runTrainer against the sd-scripts stand-in', () => {
  it('trains, reports progress and leaves a valid LoRA and the whole log', async () => {
    const { dir, run, seen } = standinRun('');
    const result = await run;
    expect(result.ok).toBe(true);
    expect(result.progress).toMatchObject({ step: 24, total: 24, epoch: 4, epochs: 4, done: true });
    expect(result.progress.loss).toBeCloseTo(0.1 / (1 + 24 / 50), 3);
    expect(seen.at(-1)).toBe(24);
    const lora = join(dir, 'out', 'sdloop-abc.safetensors');
    expect(await validateLora(lora)).toEqual([]);
    const { metadata } = await readSafetensorsHeader(lora);
    expect(metadata.ss_num_train_images).toBe('6');
    expect(JSON.parse(metadata.ss_tag_frequency!)).toEqual({ '2_red_hair': { sdloop: 2, 'red hair': 2, smiling: 1 }, '2_blue_eyes': { sdloop: 1, 'blue eyes': 1 } });
    const log = readFileSync(result.logPath, 'utf8');
    expect(log).toContain('total optimization steps');
    expect(log).toContain('# exit code 0');
    expect(existsSync(`${result.logPath}.partial`)).toBe(false);
  });

  it('fails with the log tail when the trainer exits 1', async () => {
    const result = await standinRun('fail').run;
    expect(result).toMatchObject({ ok: false, exitCode: 1, timedOut: false });
    expect(result.tail).toMatch(/OSError: Error no file named diffusion_pytorch_model.bin/);
  });

  it('fails with the last progress when the trainer crashes half way', async () => {
    const result = await standinRun('crash').run;
    expect(result).toMatchObject({ ok: false, exitCode: 1 });
    expect(result.progress.step).toBe(11);
    expect(result.tail.split('\n').slice(-1)[0]).toMatch(/CUDA out of memory/);
    expect(result.tail).toMatch(/steps:  45%.*11\/24/);
  });

  it('kills a hanging trainer and its children after the timeout', async () => {
    const pidFile = join(freshDir('pid'), 'child.pid');
    const result = await standinRun('hang', { timeoutMs: 1500, pidFile }).run;
    expect(result).toMatchObject({ ok: false, timedOut: true });
    const childPid = Number(readFileSync(pidFile, 'utf8'));
    await new Promise((r) => setTimeout(r, 200));
    expect(alive(childPid)).toBe(false);
    expect(readFileSync(result.logPath, 'utf8')).toContain('# timed out after 1500 ms');
  });

  it('says when the launcher cannot be started', async () => {
    const result = await standinRun('', { launcher: '/nonexistent/python' }).run;
    expect(result.ok).toBe(false);
    expect(result.startError).toMatch(/cannot start \/nonexistent\/python: spawn \/nonexistent\/python ENOENT/);
  });
});

