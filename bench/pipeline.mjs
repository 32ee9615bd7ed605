// The whole pipeline at the scale people run it: one prompt file of 40,000 combinations,
// the synthetic (demo) backend and the demo CLIP model, resolve -> generate -> catalog ->
// score, through the real CLI. Measured: the full run (wall and peak RSS), a no-op status
// and run, status after an operational change (generate.concurrency) and after one added
// variation value, next to ninja's no-op over 40,000 edges in the same run.
// BENCH_PROMPTS=2000 for a quick run (rounded to a multiple of 2,000); BENCH_KEEP=1 keeps
// the project folder; BENCH_REUSE=<kept project> measures the no-op figures of the current
// build on a project a kept run built (its full run is not repeated: on two cores it
// takes about 6 minutes at 40,000 and 18 at 100,000). The CLI runs from a copy of the
// build, so rebuilding meanwhile is safe.
import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { sdBenchPipelineYaml } from './lib/sd-project.mjs';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
// Axes of 20 x 10 x 10 values and one of PROMPTS / 2,000: 40,000 is 20 x 20 x 10 x 10.
const REUSE = process.env.BENCH_REUSE;
const FIRST_AXIS = REUSE ? readFileSync(join(REUSE, 'data/variations/hair.yaml'), 'utf8').trim().split('\n').length : Math.max(1, Math.round(Number(process.env.BENCH_PROMPTS ?? 40_000) / 2000));
const PROMPTS = FIRST_AXIS * 2000;
const NINJA = ['/usr/bin/ninja', '/usr/local/bin/ninja'].find((p) => existsSync(p));
const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;

const pipelineYaml = sdBenchPipelineYaml(', failure_rate: 0.3, blank_rate: 0.03');

const template = `version: "2.0"
type: template
name: bench
template: "{prompt}"
negative_prompt: "lowres"
parameters: {steps: 20, cfg_scale: 7, width: 64, height: 64, sampler_name: "Euler a"}
`;

const promptFile = `version: "2.0"
type: prompt
name: bench
implements: ../templates/bench.template.yaml
prompt: "portrait, {Hair}, {Eyes}, {Outfit}, {Place}"
imports:
  Hair: ../variations/hair.yaml
  Eyes: ../variations/eyes.yaml
  Outfit: ../variations/outfit.yaml
  Place: ../variations/place.yaml
generation: {mode: combinatorial, seed: 1000, seed_mode: fixed, max_images: 0}
output: {session_name: bench}
`;

const variations = (axis, count, offset = 0) =>
  Array.from({ length: count }, (_, i) => `${axis}${i + offset}: "${axis.toLowerCase()} style ${i + offset}"`).join('\n') + '\n';

function writeProject(dir) {
  const files = {
    'pipeline.yaml': pipelineYaml,
    'data/templates/bench.template.yaml': template,
    'data/prompts/bench.prompt.yaml': promptFile,
    'data/variations/hair.yaml': variations('Hair', FIRST_AXIS),
    'data/variations/eyes.yaml': variations('Eyes', 20),
    'data/variations/outfit.yaml': variations('Outfit', 10),
    'data/variations/place.yaml': variations('Place', 10),
  };
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), text);
  }
}

/** bin/, dist/ and assets/ of the current build in a folder of their own. */
function copyBuild(dir) {
  for (const part of ['bin', 'dist', 'assets', 'package.json']) cpSync(join(repo, part), join(dir, part), { recursive: true });
  symlinkSync(join(repo, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return join(dir, 'bin', 'pipeline.js');
}

/** Wall clock and peak RSS (through /usr/bin/time -v, when there) of one child process. */
function timedCommand(command, args) {
  const wrapped = TIME ? [TIME, ['-v', command, ...args]] : [command, args];
  const start = performance.now();
  const result = spawnSync(wrapped[0], wrapped[1], { encoding: 'utf8', maxBuffer: 256 << 20 });
  const seconds = (performance.now() - start) / 1000;
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${result.status}:\n${result.stderr.slice(-3000)}`);
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(result.stderr ?? '');
  return { seconds, rssMb: rss ? Number(rss[1]) / 1024 : undefined, stdout: result.stdout };
}

function median(count, measure) {
  const samples = Array.from({ length: count }, () => measure()).sort((a, b) => a.seconds - b.seconds);
  return samples[Math.floor(count / 2)];
}

function measureNinja(dir) {
  const ninjaDir = join(dir, 'ninja');
  const input = (i) => `in/d${String(Math.floor(i / 1000)).padStart(3, '0')}/f${String(i).padStart(6, '0')}.txt`;
  for (let i = 0; i < PROMPTS; i++) {
    if (i % 1000 === 0) mkdirSync(join(ninjaDir, dirname(input(i))), { recursive: true });
    writeFileSync(join(ninjaDir, input(i)), `item ${i}\n`);
  }
  const edges = Array.from({ length: PROMPTS }, (_, i) => `build out/${input(i).slice(3)}: upper ${input(i)}`);
  writeFileSync(join(ninjaDir, 'build.ninja'), `rule upper\n  command = tr a-z A-Z < $in > $out\n${edges.join('\n')}\n`);
  timedCommand(NINJA, ['-C', ninjaDir, '-j', '2']);
  return median(5, () => timedCommand(NINJA, ['-C', ninjaDir]));
}

function itemsRun(stdout) {
  const summary = JSON.parse(stdout);
  return summary.stages.reduce((sum, s) => sum + (s.items?.done ?? 0), 0);
}

function main() {
  const dir = mkdtempSync(join(tmpdir(), 'sdloop-bench-pipeline-'));
  const project = REUSE ?? join(dir, 'project');
  const cli = copyBuild(join(dir, 'build'));
  const pipeline = (...args) => timedCommand(process.execPath, [cli, '-C', project, ...args]);
  const log = (line) => process.stdout.write(`${line}\n`);
  try {
    if (!REUSE) {
      writeProject(project);
      symlinkSync(join(repo, 'node_modules'), join(project, 'node_modules'), 'dir');
    }
    log(`pipeline benchmark: ${PROMPTS} prompts (${FIRST_AXIS} x 20 x 10 x 10), synthetic 64x64, demo CLIP, project ${project}`);
    // A reused project first takes the current build's state upgrade and settles.
    const full = pipeline('run', '--json');
    log(`${REUSE ? 'first run of this build' : 'full run'}: ${full.seconds.toFixed(1)} s, peak RSS ${full.rssMb?.toFixed(0) ?? '-'} MB, ${itemsRun(full.stdout)} items`);
    const noopRun = median(5, () => pipeline('run', '--json'));
    if (itemsRun(noopRun.stdout) !== 0) throw new Error(`the no-op run ran ${itemsRun(noopRun.stdout)} items`);
    const noopStatus = median(5, () => pipeline('status'));
    const operational = median(5, () => pipeline('status', '--set', 'generate.concurrency=8'));
    if (!/up to date/.test(operational.stdout) || /will run|to run/.test(operational.stdout)) log(`note: status after the operational change said:\n${operational.stdout}`);
    const hair = join(project, 'data/variations/hair.yaml');
    const before = readFileSync(hair, 'utf8');
    appendFileSync(hair, variations('Hair', 1, FIRST_AXIS));
    const added = median(5, () => pipeline('status'));
    writeFileSync(hair, before);
    const ninja = NINJA ? measureNinja(dir) : undefined;
    report({ full, noopRun, noopStatus, operational, added, ninja, addedText: added.stdout });
  } finally {
    if (process.env.BENCH_KEEP) log(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

function report(m) {
  const ms = (t) => `${(t.seconds * 1000).toFixed(0)} ms`;
  const ok = (pass) => (pass ? 'ok' : 'MISSED');
  const base = m.noopStatus.seconds;
  const rows = [
    [REUSE ? 'first run of this build (reused project)' : 'full run', `${m.full.seconds.toFixed(1)} s`, '-'],
    [REUSE ? 'peak RSS, that run' : 'peak RSS, full run', m.full.rssMb === undefined ? '-' : `${m.full.rssMb.toFixed(0)} MB`, m.full.rssMb === undefined || REUSE ? '-' : `< 1024 MB: ${ok(m.full.rssMb < 1024)}`],
    ['no-op run', ms(m.noopRun), `< 500 ms: ${ok(m.noopRun.seconds < 0.5)}`],
    ['no-op status', ms(m.noopStatus), `< 500 ms: ${ok(m.noopStatus.seconds < 0.5)}`],
    ['status, --set generate.concurrency=8', ms(m.operational), `< 1.2 x no-op status: ${ok(m.operational.seconds < 1.2 * base)} (${(m.operational.seconds / base).toFixed(2)}x)`],
    ['status, one added variation value', ms(m.added), `< 1.2 x no-op status: ${ok(m.added.seconds < 1.2 * base)} (${(m.added.seconds / base).toFixed(2)}x)`],
    [`ninja no-op, ${PROMPTS} edges`, m.ninja ? ms(m.ninja) : 'ninja not found', '-'],
  ];
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows) process.stdout.write(`${r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()}\n`);
  process.stdout.write(`status after the added value:\n${m.addedText.replace(/^/gm, '  ')}`);
  process.stdout.write(`no-op and status figures are the median of 5; machine: ${cpus().length} cores, load ${loadavg().map((l) => l.toFixed(1)).join(' ')} at the end\n`);
}

main();
