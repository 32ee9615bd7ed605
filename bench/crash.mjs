// Crash survival: the crash test (test/engine/crash-random.test.ts) with many trials.
// Each trial kills a real `pipeline run` of the example project at a random instant (a
// third of them the instant a new output version appears, inside the commit) in a first
// run and in a second run with changed params, then checks every `status` claim and, after
// resuming, every output against uninterrupted runs. Prints tried and survived.
// `npm run bench -- crash [trials]` (default 100); BENCH_SEED replays a series.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const trials = Number(process.argv[2] ?? 100);
const seed = process.env.BENCH_SEED ?? String(Date.now() % 100000);
const scratch = mkdtempSync(join(tmpdir(), 'sdloop-bench-crash-'));
const report = join(scratch, 'report.json');

const started = Date.now();
const vitest = join(repo, 'node_modules', 'vitest', 'vitest.mjs');
const run = spawnSync(process.execPath, [vitest, 'run', 'test/engine/crash-random.test.ts'], {
  cwd: repo,
  stdio: ['ignore', 'inherit', 'inherit'],
  env: { ...process.env, SDLOOP_CRASH_TRIALS: String(trials), SDLOOP_CRASH_SEED: seed, SDLOOP_CRASH_REPORT: report },
});
const result = JSON.parse(readFileSync(report, 'utf8'));
rmSync(scratch, { recursive: true, force: true });
const killed = result.results.reduce((n, r) => n + Number(r.killedFirst) + Number(r.killedSecond), 0);
process.stdout.write(`crash: ${result.tried} trials tried (${killed} runs killed mid-way), ${result.survived} survived, seed ${result.seed}, ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
for (const [i, r] of result.results.entries()) if (r.problems.length > 0) process.stdout.write(`  trial ${i + 1} (seed ${result.seed + i}): ${r.problems.join('; ')}\n`);
process.exit(run.status === 0 ? 0 : 1);
