// Probe training speed: 20,000 L2-normalised 512-float embeddings, 5 classes, the
// default lambda grid and 3-fold CV, against one full-data pass of loss + gradient
// (the unit every optimiser iteration pays) measured in the same run.
import { performance } from 'node:perf_hooks';
import { l2NormalizeRows, fitLogistic } from '../dist/stages/classify/logistic.js';
import { seededRandom, trainProbe, stratifiedSplit } from '../dist/stages/classify/cross-validation.js';

const N = Number(process.env.BENCH_ROWS ?? 20_000);
const D = 512;
const K = 5;
// class signal against unit noise per dimension: 0.08 gives a probe near 85% accuracy
const STRENGTH = Number(process.env.BENCH_STRENGTH ?? 0.08);
const CV_MAX_ROWS = Number(process.env.BENCH_CV_MAX_ROWS ?? 4000);

function gaussian(random) {
  return Math.sqrt(-2 * Math.log(random() + 1e-300)) * Math.cos(2 * Math.PI * random());
}

/** CLIP-like: a strong shared direction, a weaker class direction, and noise. */
function embeddings(random) {
  const shared = Array.from({ length: D }, () => gaussian(random));
  const centres = Array.from({ length: K }, () => Array.from({ length: D }, () => gaussian(random)));
  const data = new Float64Array(N * D);
  const y = new Int32Array(N);
  for (let i = 0; i < N; i++) {
    y[i] = i % K;
    for (let j = 0; j < D; j++) data[i * D + j] = 3 * shared[j] + STRENGTH * centres[y[i]][j] + gaussian(random);
  }
  return { X: l2NormalizeRows({ data, rows: N, cols: D }), y };
}

const { X, y } = embeddings(seededRandom(7));
const { train, test } = stratifiedSplit(y, 0.25, 1);

/** One loss+gradient evaluation over the training rows: a fit stopped before its first step. */
function onePassMs() {
  const t0 = performance.now();
  fitLogistic(X, y, K, 1e-2, train, { maxIterations: 0 });
  return performance.now() - t0;
}
onePassMs(); // warm the JIT before measuring
const onePass = Math.min(onePassMs(), onePassMs(), onePassMs());

let t = performance.now();
const { model, lambda, cv } = trainProbe(X, y, K, train, { lambdas: [1e-4, 1e-3, 1e-2, 1e-1, 1], folds: 3, seed: 1, cvMaxRows: CV_MAX_ROWS });
const total = (performance.now() - t) / 1000;

let correct = 0;
for (const i of test) {
  let best = 0;
  let bestScore = -Infinity;
  for (let c = 0; c < K; c++) {
    let s = model.bias[c];
    for (let j = 0; j < D; j++) s += model.weights[c * D + j] * X.data[i * D + j];
    if (s > bestScore) [best, bestScore] = [c, s];
  }
  if (best === y[i]) correct++;
}

console.log(`classify probe: ${N} x ${D} embeddings, ${K} classes, 5 lambdas x 3 folds on <= ${CV_MAX_ROWS} rows + final fit on all training rows`);
console.log(`  one loss+gradient pass on ${train.length} rows: ${onePass.toFixed(1)} ms (baseline)`);
console.log(`  train (CV + final fit): ${total.toFixed(2)} s = ${((total * 1000) / onePass).toFixed(0)} baseline passes; budget 10 s: ${total < 10 ? 'ok' : 'OVER'}`);
console.log(`  chosen lambda ${lambda}, final fit ${model.iterations} iterations, held-out accuracy ${(correct / test.length).toFixed(3)}`);
console.log(`  cv: ${cv.map((s) => `${s.lambda}:${s.accuracy.toFixed(3)}`).join(' ')}`);

// Several axes: one probe per axis, in-process one after another versus on worker threads.
const { trainProbes } = await import('../dist/stages/classify/probe-pool.js');
const { availableParallelism } = await import('node:os');
const axes = Number(process.env.BENCH_AXES ?? 3);
const threads = Math.min(axes, availableParallelism());
const axisJobs = Array.from({ length: axes }, (_, a) => ({
  y: Int32Array.from(y, (c) => (c + a) % K),
  train,
  classes: K,
  options: { lambdas: [1e-4, 1e-3, 1e-2, 1e-1, 1], folds: 3, seed: 1, cvMaxRows: CV_MAX_ROWS },
}));
t = performance.now();
await trainProbes(X, axisJobs, 1);
const sequential = (performance.now() - t) / 1000;
t = performance.now();
await trainProbes(X, axisJobs, threads);
const parallel = (performance.now() - t) / 1000;
console.log(`  ${axes} axes: in-process ${sequential.toFixed(2)} s, ${threads} worker threads ${parallel.toFixed(2)} s (x${(sequential / parallel).toFixed(2)}; ${availableParallelism()} cores)`);
