// Kills at random instants, in a first run and in a second run with changed params, many
// times: SDLOOP_CRASH_TRIALS sets how many (a handful by default; `npm run bench -- crash`
// runs hundreds). Every kill must leave `status` telling the truth and every resume must
// end with exactly the outputs of an uninterrupted run.
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { cloneProject, crashTrial, falseClaims, killRun, pipeline, referenceRun, snapshot, target, type Snapshot, type TrialResult } from './crash-trial.js';
import { stageStatuses } from './helpers.js';

const trials = Number(process.env.SDLOOP_CRASH_TRIALS ?? 2);
/** The second run's changes, taken in turn: a downstream param, and one that remakes most images. */
const changes = [['--set', 'select.top_k=4'], ['--set', 'generate.failure_rate=0.9']];

/** A small seeded generator: a failing trial can be replayed with SDLOOP_CRASH_SEED. */
function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

const seed = Number(process.env.SDLOOP_CRASH_SEED ?? Date.now() % 100000);
const references: { first: Snapshot; then: Snapshot[]; ms: number } = { first: {}, then: [], ms: 0 };
const dirs: string[] = [];
let firstDir = '';
const results: TrialResult[] = [];

beforeAll(async () => {
  const first = await referenceRun([]);
  dirs.push(first.dir);
  firstDir = first.dir;
  references.first = first.snapshot;
  references.ms = first.ms;
  for (const change of changes) {
    const then = await referenceRun(change, first.dir);
    dirs.push(then.dir);
    references.then.push(then.snapshot);
  }
}, 300_000);

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  const report = process.env.SDLOOP_CRASH_REPORT;
  if (report) writeFileSync(report, JSON.stringify({ seed, tried: results.length, survived: results.filter((r) => r.problems.length === 0).length, results }));
});

it('two clean runs record the same fingerprints and outputs', async () => {
  const again = await referenceRun([]);
  dirs.push(again.dir);
  expect(again.snapshot).toEqual(references.first);
}, 300_000);

it('run generate --force with the same PNGs leaves everything downstream up to date (timings are run facts)', async () => {
  const dir = cloneProject(firstDir);
  dirs.push(dir);
  const forced = await pipeline(dir)(['run', 'generate', '--force']);
  expect(forced.code, forced.stderr).toBe(0);
  expect(forced.stderr).toContain('outputs unchanged');
  const stale = Object.values(await stageStatuses(pipeline(dir), [target])).filter((s) => !s.up_to_date);
  expect(stale).toEqual([]);
  expect(snapshot(dir)).toEqual(references.first);
}, 300_000);

it('a retrain killed once its new LoRA folder exists leaves the previous LoRA and its record in place', async () => {
  const dir = cloneProject(firstDir);
  dirs.push(dir);
  const retrain = ['--set', 'train.network_dim=8'];
  expect(await killRun(dir, retrain, 60_000, true)).toBe(true);
  expect(snapshot(dir).train).toEqual(references.first.train);
  expect(await falseClaims(dir, [], references.first)).toEqual([]);
  const resumed = await pipeline(dir)(['run', target, ...retrain]);
  expect(resumed.code, resumed.stderr).toBe(0);
  const loras = readdirSync(join(dir, 'data', 'stages', 'train'));
  expect(loras).toHaveLength(1);
}, 300_000);

for (let i = 0; i < trials; i++) {
  it(`trial ${i + 1} of ${trials}: killed runs leave true claims and resume to the uninterrupted outputs`, async () => {
    const change = changes[i % changes.length]!;
    const result = await crashTrial({
      first: references.first, second: change, then: references.then[i % changes.length]!,
      durationMs: references.ms, random: seeded(seed + i),
    });
    results.push(result);
    expect(result.problems, `seed ${seed + i}`).toEqual([]);
  }, 300_000);
}
