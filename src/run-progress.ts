// What a `pipeline run` is doing right now, kept in a small JSON file beside the run
// lock: the run holds the state database, so `pipeline status` reads this instead.
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { tempPathFor } from './atomic.js';

const stageStates = ['running', 'done', 'failed', 'skipped'] as const;
export type StageState = (typeof stageStates)[number];

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
      /** items per second since the stage started */
      rate: z.number().optional(),
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

  items(name: string, done: number, total: number): void {
    const now = Date.now();
    const isFirst = !this.firstSeen.has(name);
    if (isFirst) this.firstSeen.set(name, { at: now, done });
    const first = this.firstSeen.get(name)!;
    const entry = this.progress.stages[name] ?? { state: 'running' as const, since: new Date(now).toISOString() };
    const seconds = (now - first.at) / 1000;
    this.progress.stages[name] = { ...entry, done, total, ...(seconds > 0 ? { rate: (done - first.done) / seconds } : {}) };
    if (isFirst || done === total || now - this.lastWrite >= itemWriteInterval) this.write();
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

/** One line per stage of a run in progress, for `pipeline status`. */
export function describeRunProgress(progress: RunProgress, stageNames: string[], now = Date.now()): string[] {
  return stageNames.map((name) => {
    const entry = progress.stages[name];
    if (!entry) return `${name}: waiting`;
    const items = entry.total !== undefined ? ` ${entry.done}/${entry.total} items` : '';
    if (entry.state !== 'running') return `${name}: ${entry.state}${items}`;
    const rate = entry.rate && entry.rate > 0 ? entry.rate : undefined;
    const eta = rate && entry.total !== undefined ? `, ETA ${Math.ceil((entry.total - (entry.done ?? 0)) / rate)} s` : '';
    const elapsed = Math.round((now - Date.parse(entry.since)) / 1000);
    return `${name}: running for ${elapsed} s${items}${rate ? ` (${rate.toFixed(1)}/s${eta})` : ''}`;
  });
}
