// kohya-ss/sd-scripts' own merge scripts, networks/merge_lora.py (SD 1.x/2.x) and
// networks/sdxl_merge_lora.py, as a child process: a LoRA folded into a checkpoint at a
// ratio, written as a new .safetensors checkpoint. The process handling is the trainer's
// (runTrainer: own process group, timeout, log); what the script prints is parsed here.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { readSafetensorsHeader } from './safetensors.js';
import { runTrainer, type Argv, type TrainerResult } from './sd-scripts.js';

export interface MergeArgvOptions {
  sdScriptsDir: string;
  /** 'accelerate' (found on PATH), or the path of a python interpreter */
  launcher: string;
  sdxl: boolean;
  /** the checkpoint to merge into (--sd_model) */
  sdModel: string;
  /** the new checkpoint (--save_to); a .safetensors path */
  saveTo: string;
  loras: { path: string; ratio: number }[];
  savePrecision: 'float' | 'fp16' | 'bf16';
}

export function mergeScriptOf(sdScriptsDir: string, sdxl: boolean): string {
  return join(sdScriptsDir, 'networks', sdxl ? 'sdxl_merge_lora.py' : 'merge_lora.py');
}

export function buildMergeArgv(o: MergeArgvOptions): Argv {
  const script = mergeScriptOf(o.sdScriptsDir, o.sdxl);
  const launch = o.launcher === 'accelerate'
    ? { command: 'accelerate', args: ['launch', '--num_cpu_threads_per_process', '1', script] }
    : { command: o.launcher, args: [script] };
  // --models and --ratios take nargs="*": one flag, then every value, in the same order.
  const args = [
    `--sd_model=${o.sdModel}`,
    `--save_to=${o.saveTo}`,
    `--save_precision=${o.savePrecision}`,
    '--models', ...o.loras.map((l) => l.path),
    '--ratios', ...o.loras.map((l) => String(l.ratio)),
  ];
  return { command: launch.command, args: [...launch.args, ...args] };
}

/** What the merge script logged, in order: the base it loaded, each LoRA it merged, where it saved. */
export interface MergeLog {
  base: string | null;
  loaded: string[];
  merging: number;
  savedTo: string | null;
}

// logger.info lines of merge_lora.py / sdxl_merge_lora.py; sd-scripts' rich log handler puts
// a time and level before them and the source `file.py:line` after, set off by spaces.
const source = String.raw`(?:\s{2,}[\w.-]+\.py:\d+)?\s*$`;
const baseLine = new RegExp(`loading SD model: (.+?)${source}`);
const loraLine = new RegExp(`loading: (.+?)${source}`);
const mergingLine = /merging\.\.\./;
const savingLine = new RegExp(`saving SD model to: (.+?)${source}`);

export function parseMergeLog(text: string): MergeLog {
  const log: MergeLog = { base: null, loaded: [], merging: 0, savedTo: null };
  for (const line of text.split(/\r\n|\r|\n/)) {
    const base = baseLine.exec(line);
    const saving = savingLine.exec(line);
    const lora = loraLine.exec(line);
    if (base) log.base = base[1]!;
    else if (saving) log.savedTo = saving[1]!;
    else if (lora) log.loaded.push(lora[1]!);
    else if (mergingLine.test(line)) log.merging++;
  }
  return log;
}

export interface MergeResult {
  result: TrainerResult;
  log: MergeLog;
  /** why the run or its output is not a merged checkpoint; empty when it is */
  problems: string[];
}

/** Runs the merge and checks what came out: every LoRA merged, a readable safetensors where asked. */
export async function runMerge(o: MergeArgvOptions, run: { cwd: string; logPath: string; timeoutMs: number; signal?: AbortSignal }): Promise<MergeResult> {
  const result = await runTrainer({ argv: buildMergeArgv(o), ...run });
  const log = parseMergeLog(await readFile(run.logPath, 'utf8').catch(() => ''));
  const problems: string[] = [];
  if (!result.ok) problems.push(result.startError ?? (result.timedOut ? 'timed out and was killed' : `exited with code ${result.exitCode}`));
  else {
    const missing = o.loras.filter((l) => !log.loaded.includes(l.path));
    if (missing.length) problems.push(`the log does not show ${missing.map((l) => l.path).join(', ')} merged`);
    if (log.savedTo !== o.saveTo) problems.push(`the log does not show the checkpoint saved to ${o.saveTo}`);
    problems.push(...(await checkpointProblems(o.saveTo)));
  }
  return { result, log, problems };
}

/** A safetensors file whose tensors exactly fill its data: a truncated write (full disk) fails. */
async function checkpointProblems(path: string): Promise<string[]> {
  const header = await readSafetensorsHeader(path).catch((error: Error) => error);
  if (header instanceof Error) return [`${path} is not a readable safetensors file: ${header.message}`];
  const ends = Object.values(header.tensors).map((t) => t.data_offsets[1]);
  if (ends.length === 0) return [`${path} holds no tensors`];
  const dataSize = (await stat(path)).size - 8 - header.headerSize;
  const covered = Math.max(...ends);
  return covered === dataSize ? [] : [`${path}: tensors cover ${covered} data bytes but the file holds ${dataSize}`];
}
