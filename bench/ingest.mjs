// Importing a history: sdgen V2 session folders of small real PNGs (each with A1111's
// parameters chunk), timed through the real CLI for the first import, a no-op rescan
// (median of 5) and a rescan after one new session, next to `sha256sum` over the same
// files measured in the same run (reading every byte once, one core: the floor for
// anything that must hash the files), and the no-op next to the same CLI's no-op over an
// empty results folder (what starting node, loading the engine and opening DuckDB cost),
// the two interleaved. Each line also gives CPU seconds, which a shared machine inflates
// far less than wall time. BENCH_IMAGES (default 20,000) and BENCH_PER_SESSION (default
// 100) size it; BENCH_KEEP=1 keeps the folders.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import sharp from 'sharp';
import { formatParameters, writePngText } from '../dist/adapters/png-text.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(repo, 'bin', 'pipeline.js');
const IMAGES = Number(process.env.BENCH_IMAGES ?? 20_000);
const PER_SESSION = Number(process.env.BENCH_PER_SESSION ?? 100);
const hairs = { Blonde: 'blonde hair', Black: 'black hair', Red: 'bright red hair' };

const base = mkdtempSync(join(tmpdir(), 'sdloop-bench-ingest-'));
const results = join(base, 'results');
const project = join(base, 'project');
const emptyResults = join(base, 'empty-results');
const emptyProject = join(base, 'empty-project');

/** 64x64 noise: every image its own bytes, about 12 KB as PNG. */
async function basePng() {
  const noise = Buffer.alloc(64 * 64 * 3);
  for (let i = 0; i < noise.length; i++) noise[i] = (i * 2654435761) >>> 24;
  return sharp(noise, { raw: { width: 64, height: 64, channels: 3 } }).png().toBuffer();
}

function writeSession(png, s, count) {
  const dir = join(results, `20251114_${String(100000 + s).slice(-6)}-bench${s}`);
  mkdirSync(dir, { recursive: true });
  const images = [];
  for (let i = 0; i < count; i++) {
    const seed = s * 100_000 + i;
    const hair = Object.values(hairs)[i % 3];
    const prompt = `portrait, ${hair}`;
    const filename = `bench${s}_${String(i).padStart(4, '0')}_seed-${seed}.png`;
    const settings = { Steps: '20', Sampler: 'Euler a', 'CFG scale': '7', Seed: String(seed), Size: '64x64', 'Model hash': '879db523c3', Model: 'dreamshaper_8' };
    writeFileSync(join(dir, filename), writePngText(png, { parameters: formatParameters({ prompt, negativePrompt: 'lowres', settings }) }));
    images.push({ filename, seed, prompt, negative_prompt: 'lowres', applied_variations: { HairColor: hair } });
  }
  const snapshot = { version: '2.0', generation_params: { num_images: count }, variations: { HairColor: { available: Object.values(hairs), used: Object.values(hairs) } } };
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ snapshot, images, status: 'completed' }));
}

function writeProject(project, results) {
  mkdirSync(join(project, 'variations'), { recursive: true });
  mkdirSync(results, { recursive: true });
  writeFileSync(join(project, 'variations', 'hair.yaml'), Object.entries(hairs).map(([k, v]) => `${k}: "${v}"`).join('\n') + '\n');
  writeFileSync(join(project, 'pipeline.yaml'), [
    'params:', '  ingest:', `    paths: [${JSON.stringify(results)}]`, '    variations_dirs: [variations]',
    'stages:', '  ingest: {uses: ingest, params: [ingest]}', '',
  ].join('\n'));
}

/** CPU seconds of the children waited for so far (Linux: /proc/self/stat cutime + cstime, at 100 ticks/s); 0 elsewhere. */
function childCpu() {
  try {
    const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
    return (Number(fields[13]) + Number(fields[14])) / 100;
  } catch {
    return 0;
  }
}

/** Wall seconds, and CPU seconds (which a busy machine inflates far less). */
function timed(label, fn) {
  const [start, cpu] = [performance.now(), childCpu()];
  const out = fn();
  return { label, s: (performance.now() - start) / 1000, cpu: childCpu() - cpu, out };
}

function runIn(project, ...args) {
  const r = spawnSync(process.execPath, [cli, '-C', project, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`pipeline ${args.join(' ')} failed:\n${r.stderr}`);
  return r.stdout + r.stderr;
}
const run = (...args) => runIn(project, ...args);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const png = await basePng();
const sessions = Math.ceil(IMAGES / PER_SESSION);
for (let s = 0; s < sessions; s++) writeSession(png, s, Math.min(PER_SESSION, IMAGES - s * PER_SESSION));
writeProject(project, results);
writeProject(emptyProject, emptyResults);
const files = execFileSync('find', [results, '-name', '*.png'], { encoding: 'utf8', maxBuffer: 1 << 28 }).trim().split('\n');
const bytes = Number(execFileSync('du', ['-sb', results], { encoding: 'utf8' }).split('\t')[0]);

// sha256sum first reads the files cold-ish too; the import that follows finds them in the page cache, as sha256sum's rerun would.
const sha = timed('sha256sum', () => execFileSync('sh', ['-c', `find "${results}" -name '*.png' -print0 | xargs -0 sha256sum > /dev/null`]));
const first = timed('first import', () => run('run', 'ingest'));
const rows = JSON.parse(run('sql', 'select count(*)::INTEGER as n from imported', '--format', 'json'))[0].n;
runIn(emptyProject, 'run', 'ingest');
// Interleaved, so that a noisy neighbour slows both alike.
const noops = [];
const baselines = [];
for (let i = 0; i < 5; i++) {
  baselines.push(timed('no-op, no folders', () => runIn(emptyProject, 'run', 'ingest')));
  noops.push(timed('no-op', () => run('run', 'ingest')));
}
writeSession(png, sessions, PER_SESSION);
const added = timed('rescan after one new session', () => run('run', 'ingest'));
const sha2 = timed('sha256sum (warm)', () => execFileSync('sh', ['-c', `find "${results}" -name '*.png' -print0 | xargs -0 sha256sum > /dev/null`]));

const line = (label, s, note = '') => process.stdout.write(`${label.padEnd(34)} ${s.toFixed(2).padStart(7)} s  ${note}\n`);
process.stdout.write(`ingest bench: ${files.length} PNGs (${(bytes / 1e6).toFixed(0)} MB) in ${sessions} sdgen V2 sessions, ${cpus().length} cores\n`);
line('sha256sum over the same files', sha.s, `${(files.length / sha.s).toFixed(0)} images/s; CPU ${sha.cpu.toFixed(2)} s`);
line('first import (pipeline run ingest)', first.s, `${(rows / first.s).toFixed(0)} images/s, ${(first.s / sha.s).toFixed(2)}x sha256sum; ${rows} rows; CPU ${first.cpu.toFixed(2)} s`);
const times = (runs) => `${runs.map((r) => r.s.toFixed(2)).join(', ')}; CPU ${median(runs.map((r) => r.cpu)).toFixed(2)} s`;
const [noop, emptyNoop] = [median(noops.map((r) => r.s)), median(baselines.map((r) => r.s))];
line('no-op, empty results (median of 5)', emptyNoop, times(baselines));
line(`no-op rescan, ${sessions} folders (median of 5)`, noop, `${times(noops)}; +${(noop - emptyNoop).toFixed(2)} s over the empty no-op`);
line(`rescan after +${PER_SESSION} images`, added.s, /1 items run/.test(added.out) ? 'only the new session read' : 'WARNING: more than the new session ran');
line('sha256sum again (warm cache)', sha2.s, `${(first.s / sha2.s).toFixed(2)}x is the first import against it`);
if (process.env.BENCH_KEEP !== '1') rmSync(base, { recursive: true, force: true });
else process.stdout.write(`kept ${base}\n`);
