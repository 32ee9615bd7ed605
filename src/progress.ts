// Progress for long work: bars with rate and ETA on a terminal, plain periodic lines
// otherwise (CI logs, pipes), nothing at all with --json.
import { createRequire } from 'node:module';
import type { SingleBar } from 'cli-progress';
import type { ContextChannels } from './context.js';
import { describeWorker, formatEta, formatRate, type RunProgressFile, type StageState, type WorkerStat } from './run-progress.js';

export interface Reporter extends ContextChannels {
  info(message: string): void;
  /** A stage started running, finished, failed or was skipped. */
  stageState?(stage: string, state: StageState): void;
  /** The workers serving a distributed stage, as they report batches. */
  workers?(stage: string, workers: WorkerStat[]): void;
  stop(): void;
}

/** A line naming a stage's workers, at most every few seconds: their counts change with every batch. */
function workerLines(line: (s: string) => void): (stage: string, workers: WorkerStat[]) => void {
  const last = new Map<string, number>();
  return (stage, workers) => {
    const now = Date.now();
    if (now - (last.get(stage) ?? 0) < workerLineInterval) return;
    last.set(stage, now);
    line(`${stage}: workers: ${workers.map((w) => describeWorker(w, now)).join('; ')}`);
  };
}

const workerLineInterval = 5000;

export function createReporter(mode: 'tty' | 'plain' | 'silent', write: (s: string) => void = (s) => process.stderr.write(s)): Reporter {
  if (mode === 'silent') {
    return { log() {}, warn() {}, progress() {}, info() {}, stop() {} };
  }
  if (mode === 'plain') return plainReporter(write);
  // Loaded only for a terminal: scripts and CI never pay for it.
  const cliProgress = createRequire(import.meta.url)('cli-progress') as typeof import('cli-progress');
  // Rate and ETA are ours: cli-progress prints its own ETA as "NULL" (cut to "LL") until it has one.
  const newMultiBar = () =>
    new cliProgress.MultiBar(
      { format: '{stage} [{bar}] {value}/{total} {unit} | {pace}', hideCursor: true, clearOnComplete: false, stopOnComplete: false },
      cliProgress.Presets.shades_classic,
    );
  // A fresh set of bars per run: `pipeline loop` runs the pipeline several times in one process.
  let multi = newMultiBar();
  let bars = new Map<string, { bar: SingleBar; pace: Pace }>();
  const line = (s: string) => multi.log(`${s}\n`);
  return {
    log: (stage, m) => line(`${stage}: ${m}`),
    warn: (stage, m) => line(`${stage}: warning: ${m}`),
    info: line,
    workers: workerLines(line),
    progress(stage, done, total, unit = 'items') {
      let entry = bars.get(stage);
      if (!entry) {
        entry = { bar: multi.create(total, done, { stage: stage.padEnd(10), unit, pace: '' }), pace: new Pace(done) };
        bars.set(stage, entry);
      }
      entry.bar.setTotal(total);
      entry.bar.update(done, { stage: stage.padEnd(10), unit, pace: entry.pace.describe(done, total, unit) });
    },
    stop() {
      multi.stop();
      multi = newMultiBar();
      bars = new Map();
    },
  };
}

/** Rate since a stage's first count, and the ETA it gives. */
class Pace {
  private readonly started = Date.now();
  constructor(private readonly first: number) {}

  rate(done: number): number | undefined {
    const seconds = (Date.now() - this.started) / 1000;
    return seconds > 0 && done > this.first ? (done - this.first) / seconds : undefined;
  }

  describe(done: number, total: number, unit: string): string {
    const rate = this.rate(done);
    return `${formatRate(rate, unit)} | ${formatEta(done, total, rate)}`;
  }
}

function plainReporter(write: (s: string) => void): Reporter {
  const last = new Map<string, { at: number; pace: Pace }>();
  return {
    log: (stage, m) => write(`${stage}: ${m}\n`),
    warn: (stage, m) => write(`${stage}: warning: ${m}\n`),
    info: (m) => write(`${m}\n`),
    workers: workerLines((s) => write(`${s}\n`)),
    progress(stage, done, total, unit = 'items') {
      const now = Date.now();
      const seen = last.get(stage);
      if (!seen) last.set(stage, { at: now, pace: new Pace(done) });
      const entry = last.get(stage)!;
      if (done < total && seen && now - entry.at < 2000) return;
      entry.at = now;
      write(`${stage}: ${done}/${total} ${unit}${seen ? ` (${entry.pace.describe(done, total, unit).replace(' | ', ', ')})` : ''}\n`);
    },
    stop() {},
  };
}

/** The reporter a run uses: everything goes on to `reporter`, stage states and item counts also to `file`. */
export function recordingTo(file: RunProgressFile, reporter: Reporter): Reporter {
  return {
    ...reporter,
    progress(stage, done, total, unit) {
      reporter.progress(stage, done, total, unit);
      file.items(stage, done, total, unit);
    },
    stageState(stage, state) {
      reporter.stageState?.(stage, state);
      file.stage(stage, state);
    },
    workers(stage, workers) {
      reporter.workers?.(stage, workers);
      file.workers(stage, workers);
    },
  };
}
