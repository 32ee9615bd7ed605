// What readers cost a run: after every stage that ran, the run copies this month's rows of
// runs and stage_runs into data/.sdloop/state/ for readers.
// Timed here against the other write every stage commit already makes, pipeline.lock, for
// a project with a growing history (BENCH_RUNS runs of 11 stages each; default 100, 1,000
// and 10,000). Also `pipeline sql` on the sandbox against `pipeline sql --write` on the
// state database itself, each through the real CLI.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { State } from '../dist/src/state.js';
import { exportRunMonths } from '../dist/src/state-snapshot.js';
import { readLockFile, writeLockFile } from '../dist/src/lockfile.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const histories = process.env.BENCH_RUNS ? [Number(process.env.BENCH_RUNS)] : [100, 1_000, 10_000];
const repeats = 10;

async function median(work) {
  const times = [];
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    await work();
    times.push(performance.now() - start);
  }
  return times.sort((a, b) => a - b)[Math.floor(repeats / 2)];
}

async function historyOf(dir, runs) {
  const state = await State.open(join(dir, 'data', 'state.duckdb'));
  // Run ids start with their ISO start time; 30 runs a day, so 10,000 runs span 11 months.
  const id = (i) => `strftime(TIMESTAMP '2026-12-31' - INTERVAL (${i} // 30) DAY, '%Y-%m-%dT%H:%M:%S') || '-' || ${i}`;
  await state.run(`INSERT INTO runs SELECT ${id('i')}, now(), now(), 'ok', 'pipeline run', 1, 'host' FROM range(${runs}) t(i)`);
  await state.run(`INSERT INTO stage_runs SELECT ${id('(i // 11)')}, 'stage-' || (i % 11), now(), now(), 'ok', md5(i::VARCHAR), 100, 10, 90, 0, 1234.5, NULL FROM range(${runs * 11}) t(i)`);
  return state;
}

/** A lock as big as the example pipeline's: 11 stages with their params and outputs. */
function exampleLock() {
  const stages = {};
  for (let i = 0; i < 11; i++) {
    stages[`stage${i}`] = {
      fingerprint: 'f'.repeat(64), code: 'c'.repeat(64), version: null, memo: 'm'.repeat(64), params: { a: 1, b: 'x'.repeat(200) },
      resources: {}, observed: {}, inputs: { in: 'i'.repeat(64) }, deps: { files: 20, hash: 'd'.repeat(64) },
      outs: { [`out${i}`]: { kind: 'table', path: `data/tables/out${i}.parquet`, hash: 'o'.repeat(64), rows: 20000 } },
      finished_at: new Date().toISOString(), duration_s: 1.5,
    };
  }
  return { schema: 1, stages };
}

process.stdout.write('readers: the snapshot copy per stage commit, against the pipeline.lock write it sits beside\n');
for (const runs of histories) {
  const dir = mkdtempSync(join(tmpdir(), 'sdloop-bench-readers-'));
  const state = await historyOf(dir, runs);
  const lockPath = join(dir, 'pipeline.lock');
  const lock = exampleLock();
  const lockMs = await median(() => writeLockFile(lockPath, lock));
  readLockFile(lockPath);
  const snapshotMs = await median(() => exportRunMonths(state, join(dir, 'data'), ['2026-12']));
  process.stdout.write(`  ${String(runs).padStart(6)} runs (${runs * 11} stage_runs rows): snapshot ${snapshotMs.toFixed(1)} ms, lock write ${lockMs.toFixed(1)} ms, ratio ${(snapshotMs / lockMs).toFixed(1)}x\n`);
  await state.close();
  rmSync(dir, { recursive: true, force: true });
}

const cli = join(repo, 'bin', 'pipeline.js');
const dir = mkdtempSync(join(tmpdir(), 'sdloop-bench-readers-cli-'));
spawnSync('cp', ['-r', join(repo, 'test', 'fixtures', 'engine') + '/.', dir]);
spawnSync('mkdir', ['-p', join(dir, 'in')]);
spawnSync('sh', ['-c', `for i in $(seq 1 200); do echo "line $i" > ${dir}/in/f$i.txt; done`]);
spawnSync(process.execPath, [cli, '-C', dir, 'run'], { stdio: 'ignore' });
const cliMs = async (args) => median(() => spawnSync(process.execPath, [cli, '-C', dir, ...args], { stdio: 'ignore' }));
const query = 'select count(*) from upper';
const sandboxMs = await cliMs(['sql', query]);
const stateMs = await cliMs(['sql', '--write', query]);
process.stdout.write(`pipeline sql "${query}": sandbox ${sandboxMs.toFixed(0)} ms, on the state database (--write) ${stateMs.toFixed(0)} ms, ratio ${(sandboxMs / stateMs).toFixed(2)}x\n`);
rmSync(dir, { recursive: true, force: true });
