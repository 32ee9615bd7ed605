// Importing a history: sdgen V2 session folders of real PNGs (each with A1111's
// parameters chunk), timed through the real CLI, next to `sha256sum` over the same files
// measured in the same run (reading every byte once, one core: the floor for anything
// that must hash the files). Two sets: many small PNGs (64x64 noise, about 12 KB), where the
// cost per file dominates, for the first import, a no-op rescan (median of 5, against
// the same CLI's no-op over an empty results folder: what starting node, loading the
// engine and opening DuckDB cost, the two interleaved) and a rescan after one new
// session; and fewer PNGs of a real SD image's size (512x512 noise, about 0.8 MB), where
// the bytes do, for the first import. Each line gives images/s, MB/s and CPU seconds,
// which a shared machine inflates far less than wall time. BENCH_IMAGES (default 20,000)
// and BENCH_PER_SESSION (default 100) size the small set, BENCH_LARGE_IMAGES (default
// 2,000; 0 skips it) the large one; BENCH_KEEP=1 keeps the folders.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import sharp from 'sharp';
import { formatParameters, writePngText } from '../dist/adapters/png-text.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(repo, 'bin', 'pipeline.js');
const IMAGES = Number(process.env.BENCH_IMAGES ?? 20_000);
const PER_SESSION = Number(process.env.BENCH_PER_SESSION ?? 100);
const LARGE_IMAGES = Number(process.env.BENCH_LARGE_IMAGES ?? 2_000);
const hairs = { Blonde: 'blonde hair', Black: 'black hair', Red: 'bright red hair' };

const base = mkdtempSync(join(tmpdir(), 'sdloop-bench-ingest-'));

/** Noise: pixels that do not compress, as a rendered picture's barely do. Every file is its own bytes through its text chunk. */
async function noisePng(side) {
  const noise = Buffer.alloc(side * side * 3);
  let x = 2463534242;
  for (let i = 0; i < noise.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    noise[i] = x >>> 24;
  }
  return sharp(noise, { raw: { width: side, height: side, channels: 3 } }).png().toBuffer();
}

function writeSession(set, s, count) {
  const dir = join(set.results, `20251114_${String(100000 + s).slice(-6)}-bench${s}`);
  mkdirSync(dir, { recursive: true });
  const images = [];
  for (let i = 0; i < count; i++) {
    const seed = s * 100_000 + i;
    const hair = Object.values(hairs)[i % 3];
    const prompt = `portrait, ${hair}`;
    const filename = `bench${s}_${String(i).padStart(4, '0')}_seed-${seed}.png`;
    const settings = { Steps: '20', Sampler: 'Euler a', 'CFG scale': '7', Seed: String(seed), Size: `${set.side}x${set.side}`, 'Model hash': '879db523c3', Model: 'dreamshaper_8' };
    writeFileSync(join(dir, filename), writePngText(set.png, { parameters: formatParameters({ prompt, negativePrompt: 'lowres', settings }) }));
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

/** A results folder of `images` PNGs `side` pixels square in sessions of `perSession`, and a project that imports it. */
async function makeSet(name, side, images, perSession) {
  const set = { name, side, png: await noisePng(side), results: join(base, `${name}-results`), project: join(base, `${name}-project`), perSession };
  set.sessions = Math.ceil(images / perSession);
  for (let s = 0; s < set.sessions; s++) writeSession(set, s, Math.min(perSession, images - s * perSession));
  writeProject(set.project, set.results);
  set.files = Number(execFileSync('sh', ['-c', `find "${set.results}" -name '*.png' | wc -l`], { encoding: 'utf8' }));
  set.bytes = Number(execFileSync('du', ['-sb', set.results], { encoding: 'utf8' }).split('\t')[0]);
  return set;
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

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sha256sum = (set) => execFileSync('sh', ['-c', `find "${set.results}" -name '*.png' -print0 | xargs -0 sha256sum > /dev/null`]);
const line = (label, s, note = '') => process.stdout.write(`${label.padEnd(44)} ${s.toFixed(2).padStart(7)} s  ${note}\n`);
const rate = (set, s) => `${(set.files / s).toFixed(0)} images/s, ${(set.bytes / 1e6 / s).toFixed(0)} MB/s`;

/** sha256sum, then the first import, which finds the files in the page cache as sha256sum's rerun would. */
function firstImport(set) {
  const sha = timed('sha256sum', () => sha256sum(set));
  const first = timed('first import', () => runIn(set.project, 'run', 'ingest'));
  const rows = JSON.parse(runIn(set.project, 'sql', 'select count(*)::INTEGER as n from imported', '--format', 'json'))[0].n;
  const sha2 = timed('sha256sum (warm)', () => sha256sum(set));
  process.stdout.write(`\n${set.name}: ${set.files} PNGs of ${set.side}x${set.side} (${(set.bytes / 1e6).toFixed(0)} MB, ${(set.bytes / set.files / 1e3).toFixed(0)} KB each) in ${set.sessions} sdgen V2 sessions\n`);
  line('sha256sum over the same files', sha.s, `${rate(set, sha.s)}; CPU ${sha.cpu.toFixed(2)} s`);
  line('first import (pipeline run ingest)', first.s, `${rate(set, first.s)}, ${(first.s / sha.s).toFixed(2)}x sha256sum; ${rows} rows; CPU ${first.cpu.toFixed(2)} s`);
  line('sha256sum again (warm cache)', sha2.s, `${rate(set, sha2.s)}; the first import took ${(first.s / sha2.s).toFixed(2)}x as long`);
}

/** The no-op against an empty one, interleaved so that a noisy neighbour slows both alike, then a rescan after one new session. */
function rescans(set) {
  const empty = { project: join(base, 'empty-project'), results: join(base, 'empty-results') };
  writeProject(empty.project, empty.results);
  runIn(empty.project, 'run', 'ingest');
  const [noops, baselines] = [[], []];
  for (let i = 0; i < 5; i++) {
    baselines.push(timed('no-op, no folders', () => runIn(empty.project, 'run', 'ingest')));
    noops.push(timed('no-op', () => runIn(set.project, 'run', 'ingest')));
  }
  writeSession(set, set.sessions, set.perSession);
  const added = timed('rescan after one new session', () => runIn(set.project, 'run', 'ingest'));
  const times = (runs) => `${runs.map((r) => r.s.toFixed(2)).join(', ')}; CPU ${median(runs.map((r) => r.cpu)).toFixed(2)} s`;
  const [noop, emptyNoop] = [median(noops.map((r) => r.s)), median(baselines.map((r) => r.s))];
  line('no-op, empty results (median of 5)', emptyNoop, times(baselines));
  line(`no-op rescan, ${set.sessions} folders (median of 5)`, noop, `${times(noops)}; +${(noop - emptyNoop).toFixed(2)} s over the empty no-op`);
  line(`rescan after +${set.perSession} images`, added.s, `CPU ${added.cpu.toFixed(2)} s; ${/1 items run/.test(added.out) ? 'only the new session read' : 'WARNING: more than the new session ran'}`);
}

process.stdout.write(`ingest bench: ${cpus().length} cores, load ${loadavg()[0].toFixed(1)} at the start\n`);
const small = await makeSet('small', 64, IMAGES, PER_SESSION);
firstImport(small);
rescans(small);
if (LARGE_IMAGES > 0) firstImport(await makeSet('large', 512, LARGE_IMAGES, 20));
process.stdout.write(`load ${loadavg()[0].toFixed(1)} at the end\n`);
if (process.env.BENCH_KEEP !== '1') rmSync(base, { recursive: true, force: true });
else process.stdout.write(`kept ${base}\n`);
