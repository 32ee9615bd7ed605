// Progress for long work: bars with rate and ETA on a terminal, plain periodic lines
// otherwise (CI logs, pipes), nothing at all with --json.
import { createRequire } from 'node:module';
import type { SingleBar } from 'cli-progress';
import type { ContextChannels } from './context.js';
import type { RunProgressFile, StageState } from './run-progress.js';

export interface Reporter extends ContextChannels {
  info(message: string): void;
  /** A stage started running, finished, failed or was skipped. */
  stageState?(stage: string, state: StageState): void;
  stop(): void;
}

export function createReporter(mode: 'tty' | 'plain' | 'silent', write: (s: string) => void = (s) => process.stderr.write(s)): Reporter {
  if (mode === 'silent') {
    return { log() {}, warn() {}, progress() {}, info() {}, stop() {} };
  }
  if (mode === 'plain') return plainReporter(write);
  // Loaded only for a terminal: scripts and CI never pay for it.
  const cliProgress = createRequire(import.meta.url)('cli-progress') as typeof import('cli-progress');
  const newMultiBar = () =>
    new cliProgress.MultiBar(
      {
        format: '{stage} [{bar}] {value}/{total} items | {rate}/s | ETA {eta_formatted}',
        hideCursor: true,
        clearOnComplete: false,
        stopOnComplete: false,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
  // A fresh set of bars per run: `pipeline loop` runs the pipeline several times in one process.
  let multi = newMultiBar();
  let bars = new Map<string, { bar: SingleBar; started: number; first: number }>();
  const line = (s: string) => multi.log(`${s}\n`);
  return {
    log: (stage, m) => line(`${stage}: ${m}`),
    warn: (stage, m) => line(`${stage}: warning: ${m}`),
    info: line,
    progress(stage, done, total) {
      let entry = bars.get(stage);
      if (!entry) {
        entry = { bar: multi.create(total, done, { stage: stage.padEnd(10), rate: '0' }), started: Date.now(), first: done };
        bars.set(stage, entry);
      }
      const seconds = (Date.now() - entry.started) / 1000;
      const rate = seconds > 0 ? ((done - entry.first) / seconds).toFixed(1) : '0';
      entry.bar.setTotal(total);
      entry.bar.update(done, { stage: stage.padEnd(10), rate });
    },
    stop() {
      multi.stop();
      multi = newMultiBar();
      bars = new Map();
    },
  };
}

function plainReporter(write: (s: string) => void): Reporter {
  const last = new Map<string, { at: number; started: number; first: number }>();
  return {
    log: (stage, m) => write(`${stage}: ${m}\n`),
    warn: (stage, m) => write(`${stage}: warning: ${m}\n`),
    info: (m) => write(`${m}\n`),
    progress(stage, done, total) {
      const now = Date.now();
      const seen = last.get(stage);
      if (!seen) last.set(stage, { at: now, started: now, first: done });
      const entry = last.get(stage)!;
      if (done < total && seen && now - entry.at < 2000) return;
      entry.at = now;
      const seconds = (now - entry.started) / 1000;
      const rate = seconds > 0 ? (done - entry.first) / seconds : 0;
      const eta = rate > 0 ? `, ETA ${Math.ceil((total - done) / rate)} s` : '';
      write(`${stage}: ${done}/${total} items${seconds > 0 ? ` (${rate.toFixed(1)}/s${eta})` : ''}\n`);
    },
    stop() {},
  };
}

/** The reporter a run uses: everything goes on to `reporter`, stage states and item counts also to `file`. */
export function recordingTo(file: RunProgressFile, reporter: Reporter): Reporter {
  return {
    ...reporter,
    progress(stage, done, total) {
      reporter.progress(stage, done, total);
      file.items(stage, done, total);
    },
    stageState(stage, state) {
      reporter.stageState?.(stage, state);
      file.stage(stage, state);
    },
  };
}
