// Benchmark of the score stage with a model of ViT-B/32's size and shape (random weights,
// written by the project's own code; weights do not change speed):
//  1. raw inference: vision-model images/s at the chosen batch size and thread count, on
//     tensors already preprocessed (the ceiling for the stage);
//  2. end to end: the score stage on N PNGs of 512x768 (decode, quality checks,
//     preprocessing on worker threads, inference, adherence, rows), batches run as the
//     engine runs them; images/s, ratio to raw (target >= 0.9) and the peak RSS of the
//     process that ran it;
//  3. the same two on CUDA (device cuda:0, batch and workers as the device defaults them),
//     or "no CUDA device" and a skip where onnxruntime-node cannot drive one;
//  4. the demo model's agreement with the synthetic backend's ground truth.
// Run: npx tsc -p . && node bench/score.mjs [--images 2000] [--batch 32] [--threads N] [--workers 2] [--demo 1000]
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import pLimit from 'p-limit';
import YAML from 'yaml';

const repo = resolve(import.meta.dirname, '..');
const { values: args } = parseArgs({
  options: {
    images: { type: 'string', default: '2000' },
    batch: { type: 'string', default: '32' },
    threads: { type: 'string' },
    workers: { type: 'string', default: '2' },
    demo: { type: 'string', default: '1000' },
    'e2e-child': { type: 'string' },
  },
});
const batch = Number(args.batch);
const workers = Number(args.workers);
const threads = Number(args.threads ?? Math.max(1, availableParallelism() - workers));
const cacheDir = join(tmpdir(), 'sdloop-bench-score');
const vitDir = join(cacheDir, 'vit-b32-random-v1');

const { default: stage } = await import('../dist/stages/score/index.js');
const { makeTestContext } = await import('../dist/src/testing.js');

/** Run the stage as the engine does: batches of batchSize(params), concurrency(params) at a time. */
async function runStage(dir, images, prompts, axes, score) {
  const params = stage.params.parse({ score });
  const ctx = makeTestContext({ dir, params, inputs: { images, prompts, axes }, stage: 'score' });
  const items = await stage.items(ctx);
  const state = await stage.setup(ctx, items);
  const size = stage.batchSize(params);
  const limit = pLimit(stage.concurrency(params));
  const batches = [];
  for (let i = 0; i < items.length; i += size) batches.push(items.slice(i, i + size));
  const started = performance.now();
  const results = (await Promise.all(batches.map((b) => limit(() => stage.mapBatch(b, ctx, state))))).flat();
  const seconds = (performance.now() - started) / 1000;
  const stats = state.stats();
  await stage.teardown(state);
  const failed = results.filter((r) => r.error);
  if (failed.length) throw new Error(`${failed.length} images failed: ${failed[0].error}`);
  return { seconds, stats };
}

// Child mode: only the end-to-end run, so its peak RSS is the stage's own.
if (args['e2e-child']) {
  const { dir, score } = JSON.parse(args['e2e-child']);
  const { images, prompts, axes } = JSON.parse(readFileSync(join(dir, 'inputs.json'), 'utf8'));
  // A project of its own: the stage keeps embeddings in its data/cache, and a second run
  // sharing it would measure the memo, not the model.
  const project = mkdtempSync(join(tmpdir(), 'sdloop-bench-e2e-'));
  // Read where they were made, as the stage reads imported images.
  const located = images.map((im) => ({ ...im, origin: 'imported' }));
  const { seconds, stats } = await runStage(project, located, prompts, axes, score);
  rmSync(project, { recursive: true, force: true });
  process.stdout.write(JSON.stringify({ seconds, inferenceSeconds: stats.inferenceSeconds, visionEmbeddings: stats.visionEmbeddings, maxRssMB: process.resourceUsage().maxRSS / 1024 }));
  process.exit(0);
}

const { writeVitModel } = await import('../dist/demo/vit-model.js');
const { loadClipModel } = await import('../dist/adapters/clip-onnx.js');
const { preprocessImage } = await import('../dist/adapters/clip-preprocess.js');
const { renderSynthetic } = await import('../dist/demo/synthetic.js');
const { createScorer } = await import('../dist/stages/score/scorer.js');
const { scoreParams } = await import('../dist/stages/score/params.js');
const { axisAlternatives, indexAlternatives } = await import('../dist/stages/resolve/alternatives.js');
const sharp = (await import('sharp')).default;

/** The example variation files of the project, as axis -> [key, text][]. */
function exampleAxes() {
  const dir = join(repo, 'data', 'variations');
  const axes = {};
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.yaml'))) {
    let doc = YAML.parse(readFileSync(join(dir, file), 'utf8'));
    if (doc.variations) doc = doc.variations;
    const textOf = (v) => (typeof v === 'string' ? v : (v.main ?? v[Object.keys(v).sort()[0]]));
    axes[basename(file, '.yaml')] = Object.entries(doc).map(([k, v]) => [k, textOf(v)]);
  }
  return axes;
}

/** The axes table of the example axes: one alternatives set per axis, which prompt rows name. */
function axesTable(axes) {
  return Object.entries(axes).map(([axis, values]) => axisAlternatives(axis, values.map((v) => v[0]), values.map((v) => v[1])));
}
const exampleTable = axesTable(exampleAxes());
const exampleIndex = indexAlternatives(exampleTable);

function promptRows(n, axes, axesPerImage, offset = 0) {
  const sets = new Map(axesTable(axes).map((row) => [row.axis, row.alternatives]));
  const names = Object.keys(axes);
  return Array.from({ length: n }, (_, k) => {
    const i = k + offset;
    const variations = {};
    for (let a = 0; a < axesPerImage; a++) {
      const axis = names[(i + a * 3) % names.length];
      const values = axes[axis];
      const [key, text] = values[(i * 7 + a) % values.length];
      variations[axis] = { key, value: text, text, alternatives: sets.get(axis) };
    }
    const prompt = Object.values(variations).map((v) => v.value).join(', ');
    return {
      prompt_id: `bench${i}`, source: 'bench', session: 'bench', theme: null, style: null, idx: i, prompt, api_prompt: prompt,
      negative_prompt: '', seed: 5000 + i, variations, params: { width: 512, height: 768 }, manifest: {}, manifest_variations: '',
    };
  });
}

const noLora = async () => {
  throw new Error('no LoRA in the benchmark');
};

async function render(prompt, failureRate) {
  return renderSynthetic(prompt, { failureRate, valueFailureRates: {}, blankRate: 0, lora: noLora, alternatives: (id) => exampleIndex.get(id) });
}

function imageRow(prompt, stored, r) {
  return {
    image_id: stored.hash, prompt_id: prompt.prompt_id, path: stored.path, seed: r.seed, width: r.width, height: r.height,
    backend: 'synthetic', endpoint: '', model_name: 'bench', model_hash: '', loras: [], gen_ms: 0, status: 'ok', error: null,
    rendered: r.rendered, session_dir: '', filename: '',
  };
}

/** N distinct 512x768 PNGs: synthetic renders, each copy made unique by a few changed pixels. */
async function makeImages(dir, n) {
  const ctx = makeTestContext({ dir, params: {} });
  const prompts = promptRows(Math.min(n, 50), exampleAxes(), 4);
  const bases = [];
  for (const p of prompts) {
    const r = await render(p, 0.3);
    bases.push({ prompt: p, r, raw: await sharp(r.png).raw().toBuffer() });
  }
  const limit = pLimit(availableParallelism());
  const images = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      limit(async () => {
        const base = bases[i % bases.length];
        const raw = Buffer.from(base.raw);
        raw.writeUInt32LE(i, 0);
        const png = await sharp(raw, { raw: { width: 512, height: 768, channels: 3 } }).png({ compressionLevel: 6 }).toBuffer();
        return imageRow(base.prompt, await ctx.store.put(png, 'png'), base.r);
      }),
    ),
  );
  return { images, prompts };
}

async function rawInference(images, device) {
  const model = await loadClipModel(vitDir, { threads, device });
  const tensors = await Promise.all(images.slice(0, batch).map((im) => preprocessImage(readFileSync(im.path), model.preprocess)));
  await model.embedImages(tensors);
  const rounds = Math.max(3, Math.ceil(96 / batch));
  const started = performance.now();
  for (let i = 0; i < rounds; i++) await model.embedImages(tensors);
  const seconds = (performance.now() - started) / 1000;
  await model.close();
  return (rounds * batch) / seconds;
}

async function demoAccuracy(n) {
  const axes = exampleAxes();
  const params = scoreParams.parse({ model: 'demo', batch_size: 32, workers, threads });
  const dataDir = mkdtempSync(join(tmpdir(), 'sdloop-bench-demo-'));
  const scorer = await createScorer(params, { projectDir: dataDir, dataDir });
  const rows = [];
  for (const perImage of [3, 4, 6]) {
    const tally = { readings: 0, agree: 0, matchedAgree: 0, pRight: [], pWrong: [] };
    const prompts = promptRows(n / 3, axes, perImage, perImage * 100000);
    for (let i = 0; i < prompts.length; i += 64) {
      const chunk = await Promise.all(prompts.slice(i, i + 64).map(async (p) => ({ p, r: await render(p, 0.3) })));
      const scored = await scorer.scoreImages(chunk.map(({ p, r }, k) => ({ png: r.png, image_id: `d${i + k}`, prompt: p })), exampleIndex);
      for (const s of scored.scores) {
        const painted = chunk[Number(s.image_id.slice(1)) - i].r.rendered[s.axis];
        tally.readings++;
        if (s.top_value === painted) tally.agree++;
        if (s.matched === (painted === s.value)) tally.matchedAgree++;
        (painted === s.value ? tally.pRight : tally.pWrong).push(s.p_target);
      }
    }
    const mean = (xs) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    rows.push({ perImage, images: prompts.length, ...tally, pRight: mean(tally.pRight), pWrong: mean(tally.pWrong) });
  }
  await scorer.close();
  rmSync(dataDir, { recursive: true, force: true });
  return rows;
}

mkdirSync(cacheDir, { recursive: true });
if (!existsSync(join(vitDir, 'config.json'))) {
  const t = performance.now();
  await writeVitModel(vitDir);
  console.log(`wrote the ViT-B/32-shaped model in ${((performance.now() - t) / 1000).toFixed(1)} s (${vitDir})`);
}
const nImages = Number(args.images);
const dir = mkdtempSync(join(tmpdir(), 'sdloop-bench-score-'));
let t = performance.now();
const { images, prompts } = await makeImages(dir, nImages);
console.log(`made ${nImages} PNGs of 512x768 in ${((performance.now() - t) / 1000).toFixed(1)} s`);
const { writeFileSync } = await import('node:fs');
writeFileSync(join(dir, 'inputs.json'), JSON.stringify({ images, prompts, axes: exampleTable }));

console.log(`machine: ${availableParallelism()} cores; batch ${batch}, ONNX threads ${threads}, preprocessing workers ${workers}`);
// What the workers must keep up with: one thread's cost to decode, check and preprocess a PNG.
{
  const { prepareImage } = await import('../dist/stages/score/preprocess-pool.js');
  const { readPreprocess } = await import('../dist/adapters/clip-preprocess.js');
  const p = readPreprocess(vitDir);
  const sample = images.slice(0, 64);
  await prepareImage(sample[0].path, p);
  const started = performance.now();
  for (const im of sample) await prepareImage(im.path, p);
  const ms = (performance.now() - started) / sample.length;
  console.log(`decode + quality checks + preprocessing, one thread: ${ms.toFixed(1)} ms per PNG (${(1000 / ms).toFixed(0)} images/s per worker)`);
}

// Measured before and after the end-to-end run, so a machine shared with other work shows up as a spread.
const rawBefore = await rawInference(images);
console.log(`raw inference (ViT-B/32 shape, preprocessed tensors): ${rawBefore.toFixed(1)} images/s`);

const score = { model: vitDir, batch_size: batch, threads, workers };
const child = JSON.parse(
  execFileSync(process.execPath, [import.meta.filename, '--e2e-child', JSON.stringify({ dir, score })], { encoding: 'utf8', maxBuffer: 1 << 26 }),
);
const rawAfter = await rawInference(images);
const raw = (rawBefore + rawAfter) / 2;
console.log(`raw inference again after it: ${rawAfter.toFixed(1)} images/s; mean ${raw.toFixed(1)} images/s`);
const e2e = nImages / child.seconds;
console.log(`end to end (score stage, ${nImages} PNGs): ${e2e.toFixed(1)} images/s in ${child.seconds.toFixed(1)} s; ratio to raw ${(e2e / raw).toFixed(2)} (target >= 0.9); the model was busy ${((100 * child.inferenceSeconds) / child.seconds).toFixed(0)}% of the wall time; peak RSS ${child.maxRssMB.toFixed(0)} MB`);
await cudaRows();
rmSync(dir, { recursive: true, force: true });

/** Raw and end-to-end figures on cuda:0, or why there are none. */
async function cudaRows() {
  const { DeviceUnavailable, checkDevice, parseDevice, probeRuntime } = await import('../dist/adapters/onnx-device.js');
  const cuda = parseDevice('cuda');
  let cudaRaw;
  try {
    checkDevice(cuda, await probeRuntime());
    cudaRaw = await rawInference(images, cuda);
  } catch (err) {
    if (!(err instanceof DeviceUnavailable)) throw err;
    console.log(`cuda:0: no CUDA device (${err.reason}); CUDA rows skipped`);
    return;
  }
  console.log(`raw inference on cuda:0 (ViT-B/32 shape, batch ${batch}): ${cudaRaw.toFixed(1)} images/s`);
  const cudaScore = { model: vitDir, device: 'cuda', threads };
  const run = JSON.parse(
    execFileSync(process.execPath, [import.meta.filename, '--e2e-child', JSON.stringify({ dir, score: cudaScore })], { encoding: 'utf8', maxBuffer: 1 << 26 }),
  );
  const rate = nImages / run.seconds;
  console.log(`end to end on cuda:0 (device-default batch and workers): ${rate.toFixed(1)} images/s; ratio to raw ${(rate / cudaRaw).toFixed(2)}; model busy ${((100 * run.inferenceSeconds) / run.seconds).toFixed(0)}%`);
}

const nDemo = Number(args.demo);
if (nDemo > 0) {
  t = performance.now();
  const rows = await demoAccuracy(nDemo);
  console.log(`demo model vs synthetic ground truth (${((performance.now() - t) / 1000).toFixed(1)} s, 30% of values painted wrong on purpose):`);
  for (const r of rows) {
    console.log(
      `  ${r.perImage} axes/image, ${r.images} images, ${r.readings} axis readings: top value = painted value ${(100 * r.agree / r.readings).toFixed(2)}%, ` +
        `matched = (painted is the target) ${(100 * r.matchedAgree / r.readings).toFixed(2)}%, mean p_target ${r.pRight.toFixed(3)} where painted right, ${r.pWrong.toFixed(3)} where painted wrong`,
    );
  }
}
