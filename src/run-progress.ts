// What a `pipeline run` is doing right now, kept in a small JSON file beside the run
// lock: the run holds the state database, so `pipeline status` reads this instead.
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { tempPathFor } from './atomic.js';

const stageStates = ['running', 'done', 'failed', 'skipped'] as const;
export type StageState = (typeof stageStates)[number];

/** A worker serving a distributed stage, as the run knows it. */
export const workerStatSchema = z.object({
  name: z.string(),
  /** batches it returned results for in this run */
  batches: z.number().int(),
  items: z.number().int(),
  /** batches per second between its first and last result */
  rate: z.number().optional(),
  /** its last result, or the last time the run saw it connected to the queue */
  last_seen: z.string(),
  /** why it will not run this run's batches */
  refuses: z.string().optional(),
});
export type WorkerStat = z.infer<typeof workerStatSchema>;

export const runProgressSchema = z.object({
  pid: z.number().int(),
  started_at: z.string(),
  command: z.string(),
  updated_at: z.string(),
  stages: z.record(
    z.string(),
    z.object({
      state: z.enum(stageStates),
      since: z.string(),
      done: z.number().int().optional(),
      total: z.number().int().optional(),
      /** what done and total count: items, or steps for a trainer */
      unit: z.string().optional(),
      /** items per second since the stage started */
      rate: z.number().optional(),
      /** for a stage whose batches run on workers */
      workers: z.array(workerStatSchema).optional(),
    }),
  ),
});
export type RunProgress = z.infer<typeof runProgressSchema>;

/** Rewritten on every stage change and a stage's first and last count, otherwise at most once a second. */
const itemWriteInterval = 1000;

export class RunProgressFile {
  private readonly progress: RunProgress;
  private readonly firstSeen = new Map<string, { at: number; done: number }>();
  private lastWrite = 0;

  constructor(
    private readonly path: string,
    run: { command: string },
  ) {
    const now = new Date().toISOString();
    this.progress = { pid: process.pid, started_at: now, command: run.command, updated_at: now, stages: {} };
    this.write();
  }

  stage(name: string, state: StageState): void {
    const previous = this.progress.stages[name];
    this.progress.stages[name] = { ...(state === 'done' || state === 'failed' ? previous : {}), state, since: new Date().toISOString() };
    this.write();
  }

  items(name: string, done: number, total: number, unit?: string): void {
    const now = Date.now();
    const isFirst = !this.firstSeen.has(name);
    if (isFirst) this.firstSeen.set(name, { at: now, done });
    const first = this.firstSeen.get(name)!;
    const entry = this.progress.stages[name] ?? { state: 'running' as const, since: new Date(now).toISOString() };
    const seconds = (now - first.at) / 1000;
    this.progress.stages[name] = { ...entry, done, total, ...(unit ? { unit } : {}), ...(seconds > 0 ? { rate: (done - first.done) / seconds } : {}) };
    if (isFirst || done === total || now - this.lastWrite >= itemWriteInterval) this.write();
  }

  workers(name: string, workers: WorkerStat[]): void {
    const entry = this.progress.stages[name] ?? { state: 'running' as const, since: new Date().toISOString() };
    const isFirst = !entry.workers;
    this.progress.stages[name] = { ...entry, workers };
    if (isFirst || Date.now() - this.lastWrite >= itemWriteInterval) this.write();
  }

  remove(): void {
    rmSync(this.path, { force: true });
  }

  private write(): void {
    this.lastWrite = Date.now();
    this.progress.updated_at = new Date(this.lastWrite).toISOString();
    const tmp = tempPathFor(this.path);
    writeFileSync(tmp, JSON.stringify(this.progress, null, 2));
    renameSync(tmp, this.path);
  }
}

export function readRunProgress(path: string): RunProgress | undefined {
  try {
    const parsed = runProgressSchema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** Seconds as a person reads them: 45 s, 3 min 20 s, 2 h 05 min. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

/** "2.0 items/s", or per minute when slower than one every ten seconds; "measuring" before a second count. */
export function formatRate(rate: number | undefined, unit: string): string {
  if (!rate || rate <= 0) return 'rate: measuring';
  return rate < 0.1 ? `${(rate * 60).toFixed(1)} ${unit}/min` : `${rate.toFixed(1)} ${unit}/s`;
}

/** "ETA 3 min 20 s" from a rate; unknown until there is one. */
export function formatEta(done: number, total: number, rate: number | undefined): string {
  if (done >= total) return 'ETA 0 s';
  return rate && rate > 0 ? `ETA ${formatDuration((total - done) / rate)}` : 'ETA unknown';
}

/** "w1: 12 batches (384 items, 1.5 batches/s, seen 2 s ago)", or why it refuses the run's batches. */
export function describeWorker(worker: WorkerStat, now = Date.now()): string {
  const rate = worker.rate !== undefined ? `, ${formatRate(worker.rate, 'batches')}` : '';
  const seen = `seen ${formatDuration((now - Date.parse(worker.last_seen)) / 1000)} ago`;
  const refuses = worker.refuses ? `; refuses: ${worker.refuses}` : '';
  return `${worker.name}: ${worker.batches} batch${worker.batches === 1 ? '' : 'es'} (${worker.items} items${rate}, ${seen})${refuses}`;
}

/** One line per stage of a run in progress, for `pipeline status`; under a distributed stage, one per worker. */
export function describeRunProgress(progress: RunProgress, stageNames: string[], now = Date.now()): string[] {
  return stageNames.flatMap((name) => {
    const entry = progress.stages[name];
    const workers = (entry?.workers ?? []).map((w) => `  worker ${describeWorker(w, now)}`);
    return [stageLine(name, entry, now), ...workers];
  });
}

function stageLine(name: string, entry: RunProgress['stages'][string] | undefined, now: number): string {
  if (!entry) return `${name}: waiting`;
  const unit = entry.unit ?? 'items';
  const counted = entry.total !== undefined ? ` ${entry.done}/${entry.total} ${unit}` : '';
  if (entry.state !== 'running') return `${name}: ${entry.state}${counted}`;
  const elapsed = formatDuration((now - Date.parse(entry.since)) / 1000);
  const pace = entry.total !== undefined ? ` (${formatRate(entry.rate, unit)}, ${formatEta(entry.done ?? 0, entry.total, entry.rate)})` : '';
  return `${name}: running for ${elapsed}${counted}${pace}`;
}
