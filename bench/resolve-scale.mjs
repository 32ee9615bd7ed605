// Resolve at scale, through the real CLI: 100,000 prompts over four axes of 300 values
// each (three enumerated, capped by max_images, one drawn per image). Prompt rows carry
// the chosen values; the alternatives are one `planned_axes` row per axis. Targets: a few
// seconds and well under 1 GB peak RSS. Baseline, in the same run: planning the same file
// in-process (no table written), so the ratio is what the stage and its table cost.
// BENCH_PROMPTS sets the count (default 100,000).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { planPromptFile } from '../dist/stages/resolve/templates/plan.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const PROMPTS = Number(process.env.BENCH_PROMPTS ?? 100_000);
const VALUES = 300;
const AXES = ['Hair', 'Outfit', 'Place', 'Light'];
const TIME = spawnSync('/usr/bin/time', ['-v', 'true']).status === 0 ? '/usr/bin/time' : null;

function writeProject() {
  const dir = mkdtempSync(join(tmpdir(), 'sdloop-bench-resolve-scale-'));
  mkdirSync(join(dir, 'data/variations'), { recursive: true });
  mkdirSync(join(dir, 'data/prompts'));
  for (const axis of AXES) {
    const lines = Array.from({ length: VALUES }, (_, i) => `${axis}${i}: "${axis.toLowerCase()} value number ${i}, detailed"`);
    writeFileSync(join(dir, 'data/variations', `${axis}.yaml`), lines.join('\n') + '\n');
  }
  writeFileSync(join(dir, 'data/prompts/scale.prompt.yaml'), [
    'version: "2.0"', 'name: scale', 'prompt: "1girl, {Hair}, wearing {Outfit}, {Place}, {Light[$0]}"',
    'imports:', ...AXES.map((a) => `  ${a}: ../variations/${a}.yaml`),
    'generation:', '  mode: combinatorial', '  seed: 1', '  seed_mode: progressive', `  max_images: ${PROMPTS}`, '',
  ].join('\n'));
  writeFileSync(join(dir, 'pipeline.yaml'), [
    'params:', '  resolve: {prompts: [data/prompts/scale.prompt.yaml]}',
    'stages:', '  resolve: {uses: resolve, params: [resolve], deps: [data/prompts, data/variations]}', '',
  ].join('\n'));
  symlinkSync(join(repo, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return dir;
}

function timed(args) {
  const command = [process.execPath, join(repo, 'bin/pipeline.js'), ...args];
  const [bin, rest] = TIME ? [TIME, ['-v', ...command]] : [command[0], command.slice(1)];
  const start = performance.now();
  const result = spawnSync(bin, rest, { encoding: 'utf8', maxBuffer: 64 << 20 });
  const seconds = (performance.now() - start) / 1000;
  if (result.status !== 0) throw new Error(`pipeline ${args.join(' ')} exited ${result.status}:\n${result.stderr.slice(-3000)}`);
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(result.stderr ?? '');
  // CPU seconds beside wall: on a shared machine the wall clock mostly measures the neighbours.
  const cpu = ['User', 'System'].map((k) => Number(new RegExp(`${k} time \\(seconds\\): ([\\d.]+)`).exec(result.stderr ?? '')?.[1] ?? NaN));
  return { seconds, cpuSeconds: cpu[0] + cpu[1], rssMb: rss ? Number(rss[1]) / 1024 : undefined };
}

const dir = writeProject();
try {
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  const rows = planPromptFile(join(dir, 'data/prompts/scale.prompt.yaml'), { projectDir: dir }).rows.length;
  const planMs = performance.now() - start;
  const cpu = process.cpuUsage(cpuStart);
  const planCpu = (cpu.user + cpu.system) / 1e6;
  const run = timed(['-C', dir, 'run', 'resolve']);
  // Each table version has a name of its own: planned-<hash>.parquet.
  const planned = readdirSync(join(dir, 'data/tables')).find((f) => /^planned-[0-9a-f]{16}\.parquet$/.test(f));
  const table = statSync(join(dir, 'data/tables', planned)).size;
  const rss = run.rssMb === undefined ? '- (no /usr/bin/time)' : `${run.rssMb.toFixed(0)} MB (< 1024 MB: ${run.rssMb < 1024 ? 'ok' : 'OVER'})`;
  console.log(`resolve-scale: ${rows} prompts over ${AXES.length} axes of ${VALUES} values: pipeline run resolve ${run.seconds.toFixed(1)} s wall, ${run.cpuSeconds.toFixed(1)} s CPU, peak RSS ${rss}`);
  console.log(`resolve-scale: planned.parquet ${(table / 1e6).toFixed(1)} MB (${(table / rows).toFixed(0)} bytes a row)`);
  console.log(`resolve-scale: baseline in-process planning ${(planMs / 1000).toFixed(1)} s wall, ${planCpu.toFixed(1)} s CPU; the stage run costs ${(run.cpuSeconds / planCpu).toFixed(1)}x in CPU`);
} finally {
  if (!process.env.BENCH_KEEP) rmSync(dir, { recursive: true, force: true });
}
