// Peak RSS per stage at the scale people grow to: one prompt file of BENCH_PROMPTS
// combinations (default 100,000), the synthetic backend at 8x8 and the demo CLIP model,
// each stage run alone through the real CLI (`pipeline run <stage>`) under /usr/bin/time,
// so each figure is that stage's own peak. Target: every stage under 1 GB at 100,000.
// BENCH_STAGES picks the stages (default resolve,generate,catalog,score); later ones need
// the earlier. BENCH_BASELINE=<folder with bin/, dist/, assets/, package.json of an older
// build> runs the same stages with it in a project of its own, for before/after figures
// in one run. A build folder is made with: cp -r bin dist assets package.json <folder>.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { sdBenchPipelineYaml } from './lib/sd-project.mjs';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const PROMPTS = Number(process.env.BENCH_PROMPTS ?? 100_000);
const STAGES = (process.env.BENCH_STAGES ?? 'resolve,generate,catalog,score').split(',');
const BASELINE = process.env.BENCH_BASELINE;
const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
// Four axes whose product is PROMPTS (rounded up to a multiple of 1,000): n x 10 x 10 x 10.
const FIRST_AXIS = Math.max(1, Math.ceil(PROMPTS / 1000));

const pipelineYaml = sdBenchPipelineYaml();

const files = {
  'pipeline.yaml': pipelineYaml,
  'data/templates/bench.template.yaml': `version: "2.0"\ntype: template\nname: bench\ntemplate: "{prompt}"\nnegative_prompt: "lowres"\nparameters: {steps: 20, cfg_scale: 7, width: 8, height: 8, sampler_name: "Euler a"}\n`,
  'data/prompts/bench.prompt.yaml': `version: "2.0"\ntype: prompt\nname: bench\nimplements: ../templates/bench.template.yaml\nprompt: "portrait, {Hair}, {Eyes}, {Outfit}, {Place}"\nimports:\n  Hair: ../variations/hair.yaml\n  Eyes: ../variations/eyes.yaml\n  Outfit: ../variations/outfit.yaml\n  Place: ../variations/place.yaml\ngeneration: {mode: combinatorial, seed: 1000, seed_mode: fixed, max_images: 0}\noutput: {session_name: bench}\n`,
};
const variations = (axis, count) => Array.from({ length: count }, (_, i) => `${axis}${i}: "${axis.toLowerCase()} style ${i}"`).join('\n') + '\n';
Object.assign(files, {
  'data/variations/hair.yaml': variations('Hair', FIRST_AXIS),
  'data/variations/eyes.yaml': variations('Eyes', 10),
  'data/variations/outfit.yaml': variations('Outfit', 10),
  'data/variations/place.yaml': variations('Place', 10),
});

function writeProject(dir) {
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), text);
  }
  symlinkSync(join(repo, 'node_modules'), join(dir, 'node_modules'), 'dir');
}

/** A build's bin/, dist/ and assets/ in a folder of their own, so rebuilding meanwhile is safe. */
function copyBuild(from, dir) {
  for (const part of ['bin', 'dist', 'assets', 'package.json']) cpSync(join(from, part), join(dir, part), { recursive: true });
  symlinkSync(join(repo, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return join(dir, 'bin', 'pipeline.js');
}

/** Wall clock and peak RSS of `pipeline run <stage>`. */
function runStage(cli, project, stage) {
  const command = [process.execPath, cli, '-C', project, 'run', stage];
  const [bin, args] = TIME ? [TIME, ['-v', ...command]] : [command[0], command.slice(1)];
  const start = performance.now();
  const result = spawnSync(bin, args, { encoding: 'utf8', maxBuffer: 256 << 20 });
  const seconds = (performance.now() - start) / 1000;
  if (result.status !== 0) throw new Error(`pipeline run ${stage} exited ${result.status}:\n${result.stderr.slice(-3000)}`);
  const figure = (label) => /(\d+(?:\.\d+)?)$/.exec((result.stderr ?? '').split('\n').find((l) => l.includes(label)) ?? '')?.[1];
  const rss = figure('Maximum resident set size (kbytes)');
  const [user, sys] = [figure('User time (seconds)'), figure('System time (seconds)')];
  return { seconds, cpuSeconds: user === undefined ? undefined : Number(user) + Number(sys), rssMb: rss ? Number(rss) / 1024 : undefined };
}

function measureBuild(label, buildDir, dir) {
  const cli = copyBuild(buildDir, join(dir, label, 'build'));
  const project = join(dir, label, 'project');
  writeProject(project);
  const figures = {};
  for (const stage of STAGES) {
    figures[stage] = runStage(cli, project, stage);
    const cpu = figures[stage].cpuSeconds === undefined ? '' : ` (CPU ${figures[stage].cpuSeconds.toFixed(1)} s)`;
    process.stdout.write(`${label} ${stage}: ${figures[stage].seconds.toFixed(1)} s${cpu}, peak RSS ${figures[stage].rssMb?.toFixed(0) ?? '-'} MB\n`);
  }
  return figures;
}

function report(current, baseline) {
  const mb = (f) => (f?.rssMb === undefined ? '-' : `${f.rssMb.toFixed(0)} MB`);
  const rows = [['stage', ...(baseline ? ['before'] : []), 'after', 'target'], ...STAGES.map((s) => [
    s, ...(baseline ? [mb(baseline[s])] : []), mb(current[s]), current[s].rssMb === undefined ? '-' : `< 1024 MB: ${current[s].rssMb < 1024 ? 'ok' : 'MISSED'}`,
  ])];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows) process.stdout.write(`${r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()}\n`);
  process.stdout.write(`peak RSS per stage, ${FIRST_AXIS * 1000} images; machine: ${cpus().length} cores, load ${loadavg().map((l) => l.toFixed(1)).join(' ')} at the end\n`);
}

const dir = mkdtempSync(join(tmpdir(), 'sdloop-bench-memory-'));
try {
  process.stdout.write(`memory benchmark: ${FIRST_AXIS * 1000} prompts (${FIRST_AXIS} x 10 x 10 x 10), stages ${STAGES.join(', ')}\n`);
  const baseline = BASELINE ? measureBuild('before', BASELINE, dir) : undefined;
  const current = measureBuild('after', repo, dir);
  report(current, baseline);
} finally {
  if (process.env.BENCH_KEEP) process.stdout.write(`kept ${dir}\n`);
  else rmSync(dir, { recursive: true, force: true });
}
