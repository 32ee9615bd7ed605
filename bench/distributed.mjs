// Benchmark of distributed map stages: the score stage of the example project on N
// images (default 2,000) with the local executor, then through a real redis-server with
// 1, 2 and 4 `pipeline worker` processes on this machine, in one run. Prints each run's
// wall time as a ratio to the local run, and the coordinator's CPU per batch (what it
// spends queueing, waiting on Redis, decoding Arrow and committing: its CPU less that of
// the up-to-date rerun right after, which is the start-up and checks every run pays),
// which bounds how many workers one coordinator can feed. Workers here share this machine's cores, so the
// scaling flattens at the core count (2 on the CI machine).
// Run: npx tsc -p . && node bench/distributed.mjs [--images 2000] [--workers 1,2,4]
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const repo = resolve(import.meta.dirname, '..');
const cli = join(repo, 'bin', 'pipeline.js');
const { values: args } = parseArgs({ options: { images: { type: 'string', default: '2000' }, workers: { type: 'string', default: '1,2,4' } } });
const images = Number(args.images);
const workerCounts = args.workers.split(',').map(Number);

const port = await new Promise((r) => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => r(port)); }); });
const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
await new Promise((r) => setTimeout(r, 500));

const base = mkdtempSync(join(tmpdir(), 'sdloop-bench-distributed-'));
cpSync(join(repo, 'test', 'fixtures', 'example'), base, { recursive: true });
symlinkSync(join(repo, 'node_modules'), join(base, 'node_modules'));
// The example's prompt files plan 186 images; run plans with other seeds repeat them until there are enough.
const plans = Array.from({ length: Math.ceil(images / 186) }, (_, i) => `{prompts: ["data/prompts/*.prompt.yaml"], seeds: "${1000 * (i + 1)}"}`);
const runs = `resolve.runs=[${plans.join(', ')}]`;
execFileSync(process.execPath, [cli, '-C', base, 'run', 'catalog', '--set', runs], { stdio: 'ignore' });
const total = JSON.parse(execFileSync(process.execPath, [cli, '-C', base, 'sql', 'select count(*)::INTEGER as n from images', '--format', 'json'], { encoding: 'utf8' }))[0].n;

/** `pipeline run score` in a fresh copy, timed, with the coordinator's CPU seconds from /usr/bin/time. */
function timedScore(dir) {
  const started = performance.now();
  const result = spawnSync('/usr/bin/time', ['-f', 'CPU %U %S', process.execPath, cli, '-C', dir, 'run', 'score', '--set', runs], { encoding: 'utf8' });
  const seconds = (performance.now() - started) / 1000;
  if (result.status !== 0) throw new Error(result.stderr);
  const [, user, sys] = result.stderr.match(/CPU ([\d.]+) ([\d.]+)/);
  const batches = Math.ceil(Number(result.stderr.match(/(\d+) items run/)?.[1] ?? total) / 32);
  return { seconds, cpu: Number(user) + Number(sys), batches };
}

function copy(executor) {
  const dir = mkdtempSync(join(tmpdir(), 'sdloop-bench-distributed-'));
  cpSync(base, dir, { recursive: true, verbatimSymlinks: true });
  if (executor) appendFileSync(join(dir, 'pipeline.yaml'), `\nexecutor: {kind: bullmq, redis: "redis://127.0.0.1:${port}", queue_prefix: ${executor}}\n`);
  return dir;
}

async function startWorkers(dir, n) {
  const workers = [];
  for (let i = 0; i < n; i++) {
    const child = spawn(process.execPath, [cli, '-C', dir, 'worker', '--name', `w${i + 1}`, '--set', runs], { stdio: ['ignore', 'ignore', 'pipe'] });
    let output = '';
    child.stderr.on('data', (d) => (output += d));
    while (!output.includes('serving')) await new Promise((r) => setTimeout(r, 50));
    workers.push(child);
  }
  return workers;
}

const local = timedScore(copy());
process.stdout.write(`score on ${total} images, ${availableParallelism()} cores\n`);
process.stdout.write(`local executor          ${local.seconds.toFixed(1)} s  1.00x  coordinator CPU ${local.cpu.toFixed(1)} s (it runs the model)\n`);
for (const n of workerCounts) {
  const dir = copy(`bench${n}`);
  const workers = await startWorkers(dir, n);
  const run = timedScore(dir);
  const fixed = timedScore(dir);
  for (const w of workers) w.kill('SIGTERM');
  await Promise.all(workers.map((w) => new Promise((r) => w.once('exit', r))));
  rmSync(dir, { recursive: true, force: true });
  const perBatch = ((run.cpu - fixed.cpu) * 1000) / run.batches;
  process.stdout.write(`${n} worker${n > 1 ? 's' : ' '} (bullmq)       ${run.seconds.toFixed(1)} s  ${(local.seconds / run.seconds).toFixed(2)}x  coordinator CPU ${run.cpu.toFixed(1)} s (${fixed.cpu.toFixed(1)} s of it start-up), ${perBatch.toFixed(0)} ms per batch of 32\n`);
}
process.stdout.write(`speed-ups are local time / distributed time; with ${availableParallelism()} cores shared by the workers they flatten at ${availableParallelism()}\n`);
redis.kill();
rmSync(base, { recursive: true, force: true });
