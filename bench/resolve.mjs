// Planning speed: 100,000 combinations (5 axes x 10 values, a multi-line template with
// a chunk, a weight-0 axis and a seed sweep off) must plan in under 2 s. Baseline, in
// the same run: the bare Cartesian product joined into strings, no normalising or hashing.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { planPromptFile } from '../dist/stages/resolve/templates/plan.js';

const AXES = ['Hair', 'Outfit', 'Pose', 'Place', 'Light'];
const VALUES = 10;

function writeProject() {
  const dir = mkdtempSync(join(tmpdir(), 'sdloop-bench-resolve-'));
  mkdirSync(join(dir, 'vars'));
  for (const axis of AXES) {
    const lines = Array.from({ length: VALUES }, (_, i) => `${axis}${i}: "${axis.toLowerCase()} value ${i}, detailed"`);
    writeFileSync(join(dir, 'vars', `${axis}.yaml`), lines.join('\n') + '\n');
  }
  writeFileSync(join(dir, 'mood.yaml'), 'Calm: calm\nTense: tense\nHappy: happy\n');
  writeFileSync(join(dir, 'frame.chunk.yaml'), 'type: framing\nname: frame\ntemplate: "{Pose}, {Mood[$0]}, 85mm"\nimports:\n  Mood: mood.yaml\n');
  writeFileSync(join(dir, 'base.template.yaml'), 'name: base\ntemplate: "masterpiece,, best quality, {prompt}"\nnegative_prompt: "lowres, {negprompt}"\nchunks:\n  Frame: frame.chunk.yaml\nparameters:\n  steps: 20\n  width: 512\n  height: 768\n');
  const prompt = '1girl, {Hair}, wearing {Outfit},\\n@Frame,\\n\\n\\n{Place}, {Light}  ,';
  writeFileSync(join(dir, 'bench.prompt.yaml'), [
    'name: bench', 'implements: base.template.yaml', `prompt: "${prompt}"`, 'negative_prompt: "blurry"',
    'imports:', ...AXES.map((a) => `  ${a}: vars/${a}.yaml`),
    'generation:', '  mode: combinatorial', '  seed: 1', '  seed_mode: progressive', '  max_images: 0', '',
  ].join('\n'));
  return dir;
}

function baseline() {
  const values = AXES.map((axis) => Array.from({ length: VALUES }, (_, i) => `${axis.toLowerCase()} value ${i}, detailed`));
  const out = [];
  for (let i = 0; i < VALUES ** AXES.length; i++) {
    let n = i;
    const parts = [];
    for (let a = AXES.length - 1; a >= 0; a--) {
      parts.unshift(values[a][n % VALUES]);
      n = Math.floor(n / VALUES);
    }
    out.push(`masterpiece, best quality, 1girl, ${parts.join(', ')}`);
  }
  return out.length;
}

/** Best of `runs`: wall-clock ms, and CPU ms of this process (steadier on a busy machine). */
function best(runs, fn) {
  let ms = Infinity;
  let cpuMs = Infinity;
  let result;
  for (let r = 0; r < runs; r++) {
    const t = performance.now();
    const cpu = process.cpuUsage();
    result = fn();
    const used = process.cpuUsage(cpu);
    ms = Math.min(ms, performance.now() - t);
    cpuMs = Math.min(cpuMs, (used.user + used.system) / 1000);
  }
  return { ms, cpuMs, result };
}

const dir = writeProject();
try {
  const file = join(dir, 'bench.prompt.yaml');
  const planned = best(3, () => planPromptFile(file, { projectDir: dir }).rows.length);
  const bare = best(3, baseline);
  const capped = best(3, () => planPromptFile(file, { projectDir: dir, count: 1000 }).rows.length);
  console.log(`resolve: planned ${planned.result} prompts in ${planned.ms.toFixed(0)} ms wall, ${planned.cpuMs.toFixed(0)} ms CPU (${(planned.result / planned.ms * 1000).toFixed(0)} rows/s); budget 2000 ms: ${planned.ms < 2000 ? 'ok' : 'OVER'}`);
  console.log(`resolve: baseline bare Cartesian join of ${bare.result} strings: ${bare.ms.toFixed(0)} ms wall, ${bare.cpuMs.toFixed(0)} ms CPU; planning costs ${(planned.ms / bare.ms).toFixed(1)}x the baseline`);
  console.log(`resolve: --count 1000 (loading, inheritance, chunks, selection) ${capped.ms.toFixed(1)} ms`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
