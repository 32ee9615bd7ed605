// One crash trial on the example project: a real `pipeline run` killed with SIGKILL at a
// random instant (or the instant a new output version appears, inside the commit), then
// what `status` claims checked against uninterrupted runs, then the run resumed and
// every output compared with the uninterrupted run's.
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readLockFile, type OutputRecord } from '../../src/lockfile.js';
import { hashBytes, hashValue } from '../../src/hash.js';
import { walkFolder } from '../../src/glob.js';
import { copyExampleProject } from '../example-project.js';
import { finished, repoRoot, stageStatuses, type CliResult, type StageStatus } from './helpers.js';

const cli = join(repoRoot, 'bin', 'pipeline.js');
/** The stages up to the LoRA: benchmark only renders more of the same and would triple the time. */
export const target = 'train';

export const pipeline = (dir: string) => (args: string[]): Promise<CliResult> =>
  finished(spawn(process.execPath, [cli, '-C', dir, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SDLOOP_DEBUG: '' } }));

/** Whether the bytes where the lock points are those it recorded, hashed afresh (no stat cache). */
function intact(dir: string, out: OutputRecord): boolean {
  const path = join(dir, out.path);
  if (!existsSync(path)) return false;
  if (out.kind === 'table') return hashBytes(readFileSync(path)) === out.file;
  if (!statSync(path).isDirectory()) return hashBytes(readFileSync(path)) === out.hash;
  const { files } = walkFolder(path, { dot: true });
  return hashValue(files.map((f) => [f, hashBytes(readFileSync(join(path, f)))])) === out.hash;
}

/**
 * Per stage: its lock fingerprint and, per output, its recorded identity and whether the
 * files are whole. Bytes are not compared across projects: run facts (timings) differ.
 */
export type Snapshot = Record<string, { fingerprint: string; outs: Record<string, { hash: string; intact: boolean }> }>;

export function snapshot(dir: string): Snapshot {
  const lock = readLockFile(join(dir, 'pipeline.lock'));
  return Object.fromEntries(Object.entries(lock.stages).map(([stage, entry]) => [stage, {
    fingerprint: entry.fingerprint,
    outs: Object.fromEntries(Object.entries(entry.outs).map(([name, out]) => [name, { hash: out.hash, intact: intact(dir, out) }])),
  }]));
}

/** Where what `status` (with `args`) calls up to date is not what an uninterrupted run made. */
export async function falseClaims(dir: string, args: string[], reference: Snapshot): Promise<string[]> {
  const statuses: Record<string, StageStatus> = await stageStatuses(pipeline(dir), [target, ...args]);
  const now = snapshot(dir);
  return Object.values(statuses)
    .filter((s) => s.up_to_date && JSON.stringify(now[s.name]) !== JSON.stringify(reference[s.name]))
    .map((s) => `${s.name} called up to date${args.length ? ` with ${args.join(' ')}` : ''} but differs: ${JSON.stringify(now[s.name])} vs ${JSON.stringify(reference[s.name])}`);
}

/** The stages whose record differs, with both sides. */
export function differences(now: Snapshot, reference: Snapshot): string {
  const stages = [...new Set([...Object.keys(now), ...Object.keys(reference)])].filter((s) => JSON.stringify(now[s]) !== JSON.stringify(reference[s]));
  return stages.map((s) => `${s}: ${JSON.stringify(now[s])} vs ${JSON.stringify(reference[s])}`).join('; ');
}

export function cloneProject(dir: string): string {
  const copy = mkdtempSync(join(tmpdir(), 'sdloop-crash-'));
  cpSync(dir, copy, { recursive: true, verbatimSymlinks: true });
  return copy;
}

/** A project that ran to `target` uninterrupted, with `args`, from `from` (a copy of it) or from scratch. */
export async function referenceRun(args: string[], from?: string): Promise<{ dir: string; snapshot: Snapshot; ms: number }> {
  const dir = from ? cloneProject(from) : copyExampleProject('sdloop-crash-');
  const started = Date.now();
  const result = await pipeline(dir)(['run', target, ...args]);
  if (result.code !== 0) throw new Error(`reference run failed (${result.code}): ${result.stderr}`);
  return { dir, snapshot: snapshot(dir), ms: Date.now() - started };
}

/** Names of the output versions and the lock there are now: a new one is the commit window. */
function versionsNow(dir: string): string {
  const tables = join(dir, 'data', 'tables');
  const stages = join(dir, 'data', 'stages');
  const names = existsSync(tables) ? readdirSync(tables) : [];
  if (existsSync(stages)) for (const stage of readdirSync(stages)) names.push(...readdirSync(join(stages, stage)));
  return names.sort().join('/');
}

/**
 * Start `run target args` and SIGKILL it: after `delayMs`, or (commitWindow) as soon as a
 * new output version appears, which is between that version's write and the lock naming it.
 * Returns false when the run finished before the kill.
 */
export async function killRun(dir: string, args: string[], delayMs: number, commitWindow: boolean): Promise<boolean> {
  const child = spawn(process.execPath, [cli, '-C', dir, 'run', target, ...args], { stdio: 'ignore', env: { ...process.env, SDLOOP_DEBUG: '' } });
  const exit = new Promise<void>((resolve) => child.on('close', () => resolve()));
  let done = false;
  void exit.then(() => (done = true));
  const before = versionsNow(dir);
  const deadline = Date.now() + delayMs;
  while (!done && Date.now() < deadline && !(commitWindow && versionsNow(dir) !== before)) await new Promise((r) => setTimeout(r, 5));
  const killed = !done && child.kill('SIGKILL');
  await exit;
  return killed;
}

export interface TrialResult {
  killedFirst: boolean;
  killedSecond: boolean;
  problems: string[];
}

/**
 * A first run killed and resumed, then a second run with `second` args killed and resumed:
 * after each kill every up-to-date claim must hold, after each resume every output must
 * equal the uninterrupted runs' (`first` and `then`).
 */
export async function crashTrial(options: { first: Snapshot; second: string[]; then: Snapshot; durationMs: number; random: () => number }): Promise<TrialResult> {
  const { first, second, then, random } = options;
  const dir = copyExampleProject('sdloop-crash-');
  const problems: string[] = [];
  const killedFirst = await killRun(dir, [], random() * options.durationMs, random() < 0.3);
  problems.push(...(await falseClaims(dir, [], first)));
  const resumed = await pipeline(dir)(['run', target]);
  if (resumed.code !== 0) problems.push(`first resume exited ${resumed.code}: ${resumed.stderr.slice(-500)}`);
  if (JSON.stringify(snapshot(dir)) !== JSON.stringify(first)) problems.push(`first run resumed differs from the uninterrupted one: ${differences(snapshot(dir), first)}`);
  const killedSecond = await killRun(dir, second, random() * options.durationMs * 0.5, random() < 0.3);
  problems.push(...(await falseClaims(dir, [], first)), ...(await falseClaims(dir, second, then)));
  const again = await pipeline(dir)(['run', target, ...second]);
  if (again.code !== 0) problems.push(`second resume exited ${again.code}: ${again.stderr.slice(-500)}`);
  if (JSON.stringify(snapshot(dir)) !== JSON.stringify(then)) problems.push(`second run (${second.join(' ')}) resumed differs from the uninterrupted one: ${differences(snapshot(dir), then)}`);
  const stale = Object.values(await stageStatuses(pipeline(dir), [target, ...second])).filter((s) => !s.up_to_date);
  if (stale.length > 0) problems.push(`after the resume, status says stale: ${stale.map((s) => `${s.name} (${s.reasons.join('; ')})`).join(', ')}`);
  return { killedFirst, killedSecond, problems };
}
