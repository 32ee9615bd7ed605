// Engine overhead at scale: a map stage over 20,000 small input files, timed through the
// real CLI (child processes, wall clock) for a full run, a no-op run, a no-op status and
// a run after adding 1% more files, each next to ninja on an equivalent build.ninja. A
// full run on half the files gives the engine's cost per item without its fixed costs.
// BENCH_ITEMS changes the item count; BENCH_KEEP=1 keeps the project folder.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(repo, 'bin', 'pipeline.js');
const ITEMS = Number(process.env.BENCH_ITEMS ?? 20_000);
const ADDED = Math.max(1, Math.round(ITEMS / 100));
const HALF = Math.floor(ITEMS / 2);
const PER_DIR = 1000;
const NINJA = ['/usr/bin/ninja', '/usr/local/bin/ninja'].find((p) => existsSync(p));

// The stages time their own work and append it (ms) to BENCH_WORK_FILE, so the engine's
// share is the wall time minus what the stage code itself spent.
const workTimer = `
import { appendFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
export async function timed(work) {
  const start = performance.now();
  const result = await work();
  appendFileSync(process.env.BENCH_WORK_FILE, \`\${performance.now() - start}\\n\`);
  return result;
}
`;

const listStage = `
import { z } from 'zod';
import { statSync } from 'node:fs';
import { timed } from './work.mjs';
export default {
  kind: 'stage', description: 'every input file with its size and mtime (bench)', params: z.object({}).passthrough(),
  outputs: { files: { kind: 'table', schema: z.object({ path: z.string(), size: z.number().int(), mtime: z.number() }) } },
  run: (ctx) => timed(async () => {
    const fg = (await import('fast-glob')).default;
    const paths = (await fg('in/**/*.txt', { cwd: ctx.projectDir })).sort();
    return { files: paths.map((path) => { const s = statSync(ctx.projectDir + '/' + path); return { path, size: s.size, mtime: s.mtimeMs }; }) };
  }),
};
`;

const upperStage = `
import { z } from 'zod';
import { readFileSync } from 'node:fs';
import { timed } from './work.mjs';
export default {
  kind: 'map', description: 'upper-case each file (bench)', params: z.object({}).passthrough(),
  outputs: { upper: { kind: 'table', schema: z.object({ path: z.string(), text: z.string() }) } },
  over: 'files', key: 'path', batchSize: () => 1000, concurrency: () => 2,
  mapBatch: (items, ctx) => timed(async () =>
    items.map((it) => ({ rows: { upper: [{ path: it.path, text: readFileSync(ctx.projectDir + '/' + it.path, 'utf8').toUpperCase() }] } }))),
};
`;

const pipelineYaml = `stages:
  files:
    uses: ./list.mjs
    deps: [in]
  upper:
    uses: ./upper.mjs
    inputs: {files: files.files}
`;

const inputPath = (i) => `in/d${String(Math.floor(i / PER_DIR)).padStart(3, '0')}/f${String(i).padStart(6, '0')}.txt`;

function writeInputs(dir, from, to) {
  for (let i = from; i < to; i++) {
    const path = join(dir, inputPath(i));
    if (i % PER_DIR === 0 || i === from) mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, `item ${i}: a small input file\n`);
  }
}

/** One ninja edge per item, the same file-to-file work as the map stage. */
function writeBuildNinja(dir, count) {
  const edges = Array.from({ length: count }, (_, i) => `build out/${inputPath(i).slice(3)}: upper ${inputPath(i)}`);
  writeFileSync(join(dir, 'build.ninja'), `rule upper\n  command = tr a-z A-Z < $in > $out\n${edges.join('\n')}\n`);
}

/** CPU seconds of the children this process has waited for (Linux /proc), or undefined elsewhere. */
function childCpuSeconds() {
  if (!existsSync('/proc/self/stat')) return undefined;
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
  return (Number(fields[13]) + Number(fields[14])) / 100; // cutime + cstime, in USER_HZ ticks
}

/** Wall clock and CPU time of one child process: CPU time shows the cost when the machine is busy. */
function timedCommand(command, args, env = {}) {
  const cpuBefore = childCpuSeconds();
  const start = performance.now();
  const result = spawnSync(command, args, { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 64 << 20 });
  const seconds = (performance.now() - start) / 1000;
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${result.status}:\n${result.stderr}`);
  const cpu = cpuBefore === undefined ? undefined : childCpuSeconds() - cpuBefore;
  return { seconds, cpu, stdout: result.stdout, stderr: result.stderr };
}

/** The sample with the median wall time of `count`: this machine's timings wander by 10-20%. */
function median(count, measure) {
  const samples = Array.from({ length: count }, () => measure()).sort((a, b) => a.seconds - b.seconds);
  return samples[Math.floor(count / 2)];
}

function main() {
  const dir = mkdtempSync(join(tmpdir(), 'sdloop-bench-engine-'));
  const workFile = join(dir, 'stage-work.ms');
  const pipeline = (...args) => timedCommand(process.execPath, [cli, '-C', dir, ...args], { BENCH_WORK_FILE: workFile });
  const stageWork = () => {
    const text = existsSync(workFile) ? readFileSync(workFile, 'utf8') : '';
    writeFileSync(workFile, '');
    return text.split('\n').filter(Boolean).reduce((sum, ms) => sum + Number(ms), 0) / 1000;
  };
  try {
    symlinkSync(join(repo, 'node_modules'), join(dir, 'node_modules'), 'dir');
    writeFileSync(join(dir, 'work.mjs'), workTimer);
    writeFileSync(join(dir, 'list.mjs'), listStage);
    writeFileSync(join(dir, 'upper.mjs'), upperStage);
    writeFileSync(join(dir, 'pipeline.yaml'), pipelineYaml);
    process.stdout.write(`engine benchmark: ${ITEMS} input files, map stage in batches of 1000, project ${dir}\n`);

    // A first full run on half the files, then from scratch on all of them: the difference
    // is what the engine spends per item, with start-up and other fixed costs taken out.
    // Each is the median of three runs from scratch; the last one leaves the project built.
    const fromScratch = () => {
      rmSync(join(dir, 'data'), { recursive: true, force: true });
      rmSync(join(dir, 'pipeline.lock'), { force: true });
      return { ...pipeline('run'), work: stageWork() };
    };
    writeInputs(dir, 0, HALF);
    const half = median(3, fromScratch);
    writeInputs(dir, HALF, ITEMS);
    const full = median(3, fromScratch);
    const noopRun = median(7, () => pipeline('run'));
    const noopStatus = median(7, () => pipeline('status'));
    stageWork();
    writeInputs(dir, ITEMS, ITEMS + ADDED);
    const added = pipeline('run');
    const addedWork = stageWork();
    const rows = JSON.parse(pipeline('sql', '--format', 'json', 'select count(*)::INTEGER as n from upper').stdout)[0].n;
    if (rows !== ITEMS + ADDED) throw new Error(`upper has ${rows} rows, expected ${ITEMS + ADDED}`);

    const ninja = NINJA ? measureNinja(dir) : undefined;
    report({ half, full, noopRun, noopStatus, added, addedWork, ninja });
  } finally {
    if (process.env.BENCH_KEEP) process.stdout.write(`kept ${dir}\n`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

function measureNinja(dir) {
  const ninja = (...args) => timedCommand(NINJA, ['-C', dir, ...args]);
  writeBuildNinja(dir, ITEMS);
  const full = ninja('-j', '2');
  const noop = median(7, () => ninja());
  const dry = median(7, () => ninja('-n'));
  writeBuildNinja(dir, ITEMS + ADDED);
  const added = ninja('-j', '2');
  return { full, noop, dry, added };
}

function report(m) {
  const fmt = (s) => (s === undefined ? '-' : s < 1 ? `${(s * 1000).toFixed(0)} ms` : `${s.toFixed(2)} s`);
  const timing = (t) => (t ? `${fmt(t.seconds)}${t.cpu === undefined ? '' : ` (cpu ${fmt(t.cpu)})`}` : '-');
  const verdict = (ok) => (ok ? 'ok' : 'MISSED');
  const vsNinja = (t) => (m.ninja ? `${(t.seconds / m.ninja.noop.seconds).toFixed(1)}x` : '-');
  const engineSeconds = (t) => t.seconds - t.work;
  const averageUs = (engineSeconds(m.full) / ITEMS) * 1e6;
  const marginalUs = ((engineSeconds(m.full) - engineSeconds(m.half)) / (ITEMS - HALF)) * 1e6;
  const addedBudget = 2 * (m.noopRun.seconds + m.addedWork);
  const rows = [
    ['full run', timing(m.full), `stage work ${fmt(m.full.work)}`, timing(m.ninja?.full), vsNinja(m.full)],
    ['no-op run', timing(m.noopRun), `< 500 ms: ${verdict(m.noopRun.seconds < 0.5)}`, timing(m.ninja?.noop), vsNinja(m.noopRun)],
    ['no-op status', timing(m.noopStatus), `< 500 ms: ${verdict(m.noopStatus.seconds < 0.5)}`, `${timing(m.ninja?.dry)} -n`, vsNinja(m.noopStatus)],
    [`run +${ADDED} files (1%)`, timing(m.added), `< ${fmt(addedBudget)}: ${verdict(m.added.seconds < addedBudget)}`, timing(m.ninja?.added), vsNinja(m.added)],
    [`full run, ${HALF} files`, timing(m.half), `stage work ${fmt(m.half.work)}`, '-', '-'],
    ['overhead per item', `${marginalUs.toFixed(1)} us`, `< 50 us: ${verdict(marginalUs < 50)}`, '-', '-'],
    ['  average, start-up in', `${averageUs.toFixed(1)} us`, '-', '-', '-'],
  ];
  const header = ['figure', 'wall (cpu)', 'target', 'ninja wall (cpu)', 'vs ninja no-op'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  process.stdout.write(`${[line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')}\n`);
  process.stdout.write(`1% run target: 2 x (no-op run + that run's stage work, ${fmt(m.addedWork)}: the list stage re-stats every file, the map stage runs ${ADDED} items)\n`);
  process.stdout.write(`overhead per item: engine time (wall - stage work) of the full run on ${ITEMS} files minus that on ${HALF}, per extra file; the average divides the whole full run's engine time, start-up included, by ${ITEMS}\n`);
  process.stdout.write('full runs are the median of 3, no-op figures the median of 7\n');
  process.stdout.write(`machine: ${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} at the end (wall times grow with load, cpu times much less)\n`);
  process.stdout.write(
    NINJA
      ? `ninja: ${NINJA} (Debian ninja-build), one edge per file running tr, -j 2; its no-op stats every input and output\n`
      : 'ninja: not found (install the Debian package ninja-build for /usr/bin/ninja); ninja column skipped\n',
  );
}

main();
