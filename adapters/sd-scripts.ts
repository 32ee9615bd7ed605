// kohya-ss/sd-scripts as a child process: the argv for train_network.py (or
// sdxl_train_network.py), launched through `accelerate launch` or a plain python.
// User text only ever travels as argv elements, never through a shell.
import { join } from 'node:path';

export interface TrainArgvOptions {
  sdScriptsDir: string;
  /** 'accelerate' (found on PATH), or the path of a python interpreter */
  launcher: string;
  sdxl: boolean;
  baseModel: string;
  datasetConfig: string;
  outputDir: string;
  outputName: string;
  networkDim: number;
  networkAlpha: number;
  learningRate: number;
  maxTrainEpochs: number | null;
  maxTrainSteps: number | null;
  resolution: number;
  mixedPrecision: 'no' | 'fp16' | 'bf16';
  /** sd-scripts' --optimizer_type (AdamW, AdamW8bit, Lion, Prodigy, Adafactor, ...) */
  optimizerType: string;
  /** PyTorch's scaled-dot-product attention (--sdpa), xformers (--xformers), or neither */
  attention: 'sdpa' | 'xformers' | 'none';
  cacheLatents: boolean;
  gradientCheckpointing: boolean;
  extraArgs: string[];
}

export interface Argv {
  command: string;
  args: string[];
}

export function trainScriptOf(sdScriptsDir: string, sdxl: boolean): string {
  return join(sdScriptsDir, sdxl ? 'sdxl_train_network.py' : 'train_network.py');
}

export function buildTrainArgv(o: TrainArgvOptions): Argv {
  const script = trainScriptOf(o.sdScriptsDir, o.sdxl);
  const launch = o.launcher === 'accelerate'
    ? { command: 'accelerate', args: ['launch', '--num_cpu_threads_per_process', '1', script] }
    : { command: o.launcher, args: [script] };
  // max_train_steps wins in sd-scripts when both are given; pass only the one that applies.
  const length = o.maxTrainSteps !== null
    ? [`--max_train_steps=${o.maxTrainSteps}`]
    : [`--max_train_epochs=${o.maxTrainEpochs ?? 10}`];
  const args = [
    `--pretrained_model_name_or_path=${o.baseModel}`,
    `--dataset_config=${o.datasetConfig}`,
    `--output_dir=${o.outputDir}`,
    `--output_name=${o.outputName}`,
    '--save_model_as=safetensors',
    '--network_module=networks.lora',
    `--network_dim=${o.networkDim}`,
    `--network_alpha=${o.networkAlpha}`,
    `--learning_rate=${o.learningRate}`,
    ...length,
    `--resolution=${o.resolution},${o.resolution}`,
    `--mixed_precision=${o.mixedPrecision}`,
    `--optimizer_type=${o.optimizerType}`,
    ...(o.attention === 'none' ? [] : [`--${o.attention}`]),
    ...(o.cacheLatents ? ['--cache_latents'] : []),
    ...(o.gradientCheckpointing ? ['--gradient_checkpointing'] : []),
    ...o.extraArgs,
  ];
  return { command: launch.command, args: [...launch.args, ...args] };
}

export type ProgressEvent =
  | { kind: 'total'; steps: number }
  | { kind: 'epoch'; epoch: number; epochs: number }
  | { kind: 'steps'; step: number; total: number; itPerSec: number | null; loss: number | null }
  | { kind: 'saved'; path: string }
  | { kind: 'done' };

// `steps:  10%|█         | 160/1600 [01:23<12:34,  1.9it/s, avr_loss=0.0912]`; tqdm
// writes `s/it` instead of `it/s` when a step takes over a second, and `?it/s` at first.
const stepsLine = /steps:\s*\d+%\|[^|]*\|\s*(\d+)\/(\d+)\s*\[[^\]]*?(?:,\s*([\d.]+|\?)(it\/s|s\/it))?(?:,\s*avr_loss=([-+\d.eE]+|nan|inf))?\s*\]/;
const totalLine = /total optimization steps[^:\n]*:\s*(\d+)/;
const epochLine = /^\s*epoch (\d+)\/(\d+)\s*$/;
const savedLine = /saving checkpoint:\s*(.+?)\s*$/;

/** One line of sd-scripts output (a `\r` or `\n` separated piece) -> what it tells. */
export function parseProgressLine(line: string): ProgressEvent | null {
  const steps = stepsLine.exec(line);
  if (steps) {
    const rate = steps[3] && steps[3] !== '?' ? Number(steps[3]) : null;
    const itPerSec = rate === null ? null : steps[4] === 's/it' ? (rate > 0 ? 1 / rate : null) : rate;
    const loss = steps[5] !== undefined ? Number(steps[5]) : null;
    return { kind: 'steps', step: Number(steps[1]), total: Number(steps[2]), itPerSec, loss };
  }
  const total = totalLine.exec(line);
  if (total) return { kind: 'total', steps: Number(total[1]) };
  const epoch = epochLine.exec(line);
  if (epoch) return { kind: 'epoch', epoch: Number(epoch[1]), epochs: Number(epoch[2]) };
  const saved = savedLine.exec(line);
  if (saved) return { kind: 'saved', path: saved[1]! };
  if (/^\s*model saved\.\s*$/.test(line)) return { kind: 'done' };
  return null;
}

/** Feeds chunks of a stream in; keeps a piece cut between chunks until its end arrives. */
export class ProgressParser {
  private pending = '';

  push(chunk: string): ProgressEvent[] {
    const pieces = (this.pending + chunk).split(/\r\n|\r|\n/);
    this.pending = pieces.pop() ?? '';
    return pieces.map(parseProgressLine).filter((e): e is ProgressEvent => e !== null);
  }

  end(): ProgressEvent[] {
    const last = this.pending;
    this.pending = '';
    const event = parseProgressLine(last);
    return event ? [event] : [];
  }
}

/** What a run told about itself, folded from its events. */
export interface TrainProgress {
  step: number;
  total: number | null;
  epoch: number | null;
  epochs: number | null;
  itPerSec: number | null;
  loss: number | null;
  saved: string[];
  done: boolean;
}

export function emptyProgress(): TrainProgress {
  return { step: 0, total: null, epoch: null, epochs: null, itPerSec: null, loss: null, saved: [], done: false };
}

export function foldProgress(p: TrainProgress, e: ProgressEvent): TrainProgress {
  switch (e.kind) {
    case 'total':
      return { ...p, total: e.steps };
    case 'epoch':
      return { ...p, epoch: e.epoch, epochs: e.epochs };
    case 'steps':
      return { ...p, step: e.step, total: e.total, itPerSec: e.itPerSec ?? p.itPerSec, loss: e.loss ?? p.loss };
    case 'saved':
      return { ...p, saved: [...p.saved, e.path] };
    case 'done':
      return { ...p, done: true };
  }
}

/** The last lines of a log, with tqdm's `\r` redraws collapsed to their final state. */
export class LogTail {
  private pending = '';
  private lines: string[] = [];

  constructor(private readonly keep: number) {}

  push(chunk: string): void {
    const pieces = (this.pending + chunk).split('\n');
    this.pending = pieces.pop() ?? '';
    for (const piece of pieces) this.add(piece);
  }

  text(): string {
    const last = this.pending;
    return [...this.lines, ...(last ? [finalRedraw(last)] : [])].slice(-this.keep).join('\n');
  }

  private add(line: string): void {
    const shown = finalRedraw(line);
    if (shown.trim() === '') return;
    this.lines.push(shown);
    if (this.lines.length > this.keep) this.lines.shift();
  }
}

function finalRedraw(line: string): string {
  const parts = line.split('\r').filter((p) => p.trim() !== '');
  return parts[parts.length - 1] ?? '';
}

export interface RunTrainerOptions {
  argv: Argv;
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** the whole stdout + stderr; written as `<logPath>.partial` while running, renamed at the end */
  logPath: string;
  timeoutMs: number;
  signal?: AbortSignal;
  onProgress?(progress: TrainProgress): void;
  /** between SIGTERM and SIGKILL to the process group */
  killGraceMs?: number;
  tailLines?: number;
}

export interface TrainerResult {
  ok: boolean;
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  aborted: boolean;
  /** set when the launcher could not be started at all (not installed, not executable) */
  startError: string | null;
  progress: TrainProgress;
  tail: string;
  durationMs: number;
  logPath: string;
}

/** Runs the trainer in its own process group, so a timeout also ends what accelerate spawned. */
export async function runTrainer(o: RunTrainerOptions): Promise<TrainerResult> {
  const { spawn } = await import('node:child_process');
  const { createWriteStream } = await import('node:fs');
  const { mkdir, rename } = await import('node:fs/promises');
  const { dirname } = await import('node:path');
  await mkdir(dirname(o.logPath), { recursive: true });
  const partial = `${o.logPath}.partial`;
  const log = createWriteStream(partial);
  log.write(`$ ${[o.argv.command, ...o.argv.args].map((a) => JSON.stringify(a)).join(' ')}\n# cwd ${o.cwd}\n`);
  const tail = new LogTail(o.tailLines ?? 40);
  let progress = emptyProgress();
  let timedOut = false;
  let aborted = false;
  let startError: string | null = null;
  const started = Date.now();

  const child = spawn(o.argv.command, o.argv.args, { cwd: o.cwd, env: o.env ?? process.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const killGroup = (sig: NodeJS.Signals) => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, sig);
    } catch {
      // the group is already gone
    }
  };
  let killTimer: NodeJS.Timeout | undefined;
  const stop = () => {
    killGroup('SIGTERM');
    killTimer ??= setTimeout(() => killGroup('SIGKILL'), o.killGraceMs ?? 10_000);
  };
  const timeout = setTimeout(() => {
    timedOut = true;
    stop();
  }, o.timeoutMs);
  const onAbort = () => {
    aborted = true;
    stop();
  };
  o.signal?.addEventListener('abort', onAbort, { once: true });
  if (o.signal?.aborted) onAbort();

  for (const stream of [child.stdout, child.stderr]) {
    const parser = new ProgressParser();
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      log.write(chunk);
      tail.push(chunk);
      const events = parser.push(chunk);
      if (events.length === 0) return;
      progress = events.reduce(foldProgress, progress);
      o.onProgress?.(progress);
    });
    stream.on('end', () => {
      progress = parser.end().reduce(foldProgress, progress);
    });
  }

  const [exitCode, signal] = await new Promise<[number | null, string | null]>((resolve) => {
    child.on('error', (error) => {
      startError = `cannot start ${o.argv.command}: ${error.message}`;
      resolve([null, null]);
    });
    child.on('close', (code, sig) => resolve([code, sig]));
  });
  clearTimeout(timeout);
  clearTimeout(killTimer);
  o.signal?.removeEventListener('abort', onAbort);
  const ending = timedOut ? `timed out after ${o.timeoutMs} ms` : startError ?? `exit code ${exitCode}${signal ? `, signal ${signal}` : ''}`;
  log.write(`\n# ${ending}\n`);
  await new Promise<void>((resolve) => log.end(resolve));
  await rename(partial, o.logPath);
  const ok = exitCode === 0 && !timedOut && !aborted && startError === null;
  return { ok, exitCode, signal, timedOut, aborted, startError, progress, tail: tail.text(), durationMs: Date.now() - started, logPath: o.logPath };
}
