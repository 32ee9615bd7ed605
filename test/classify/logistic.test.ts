import { describe, expect, it } from 'vitest';
import { argmaxRows, evaluate, fitLogistic, l2NormalizeRows, matrixFromRows, predictProba, type Matrix } from '../../stages/classify/logistic.js';
import {
  bestLambda,
  crossValidate,
  seededRandom,
  stratifiedFolds,
  stratifiedSample,
  stratifiedSplit,
  trainProbe,
} from '../../stages/classify/cross-validation.js';

function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(random() + 1e-300)) * Math.cos(2 * Math.PI * random());
}

/** n rows in d dims, class c centred at `strength` along axis c, unit noise elsewhere. */
function clusters(n: number, d: number, classes: number, strength: number, seed: number) {
  const random = seededRandom(seed);
  const rows: number[][] = [];
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % classes;
    rows.push(Array.from({ length: d }, (_, j) => (j === y[i] ? strength : 0) + gaussian(random)));
  }
  return { X: matrixFromRows(rows), y };
}

function accuracyOn(X: Matrix, y: Int32Array, model: ReturnType<typeof fitLogistic>, idx: Int32Array) {
  return evaluate(predictProba(model, X, idx), model.classes, y, idx).accuracy;
}

describe('logistic probe', () => {
  it('separates a separable toy set perfectly, on training and held-out rows', () => {
    const { X, y } = clusters(300, 8, 3, 12, 1);
    const { train, test } = stratifiedSplit(y, 0.25, 1);
    const { model } = trainProbe(X, y, 3, train, { lambdas: [1e-4, 1e-2, 1], folds: 3, seed: 1 });
    expect(accuracyOn(X, y, model, train)).toBe(1);
    expect(accuracyOn(X, y, model, test)).toBe(1);
  });

  it('beats chance by a wide margin on a noisy set', () => {
    const { X, y } = clusters(800, 32, 4, 1.5, 2);
    const { train, test } = stratifiedSplit(y, 0.25, 1);
    const { model } = trainProbe(X, y, 4, train, { lambdas: [1e-4, 1e-3, 1e-2, 1e-1, 1], folds: 3, seed: 1 });
    const accuracy = accuracyOn(X, y, model, test);
    expect(accuracy).toBeGreaterThan(0.55); // chance is 0.25
    expect(accuracy).toBeLessThan(1);
  });

  it('works on L2-normalised, CLIP-like rows that share one dominant direction', () => {
    const random = seededRandom(3);
    const shared = Array.from({ length: 64 }, () => gaussian(random));
    const rows: number[][] = [];
    const y = new Int32Array(400);
    for (let i = 0; i < 400; i++) {
      y[i] = i % 2;
      rows.push(shared.map((s, j) => 10 * s + (j === 0 ? (y[i] ? 2 : -2) : 0) + 0.3 * gaussian(random)));
    }
    const X = l2NormalizeRows(matrixFromRows(rows));
    const { train, test } = stratifiedSplit(y, 0.25, 1);
    const model = fitLogistic(X, y, 2, 1e-3, train);
    expect(accuracyOn(X, y, model, test)).toBeGreaterThan(0.95);
  });

  it('searches the regularisation: strong on few noisy rows in many dims, weak on clean rows', () => {
    const lambdas = [1e-4, 1e-3, 1e-2, 1e-1, 1, 10];
    const noisy = clusters(60, 200, 2, 1.2, 4);
    const noisyScores = crossValidate(noisy.X, noisy.y, 2, Int32Array.from(noisy.y.keys()), { lambdas, folds: 3, seed: 1 });
    expect(noisyScores.map((s) => s.lambda).sort()).toEqual([...lambdas].sort());
    const clean = clusters(200, 4, 2, 6, 5);
    const cleanScores = crossValidate(clean.X, clean.y, 2, Int32Array.from(clean.y.keys()), { lambdas, folds: 3, seed: 1 });
    expect(bestLambda(noisyScores)).toBeGreaterThan(bestLambda(cleanScores));
  });

  it('stops at the optimum: the penalised loss has zero gradient there (KKT check)', () => {
    const { X, y } = clusters(150, 6, 3, 1, 8);
    const lambda = 0.05;
    const model = fitLogistic(X, y, 3, lambda, undefined, { tolerance: 1e-9, maxIterations: 500 });
    const { rows: n, cols: d } = X;
    const mean = Array.from({ length: d }, (_, j) => X.data.filter((_, k) => k % d === j).reduce((a, b) => a + b, 0) / n);
    const scale = mean.map((m, j) => Math.sqrt(X.data.filter((_, k) => k % d === j).reduce((a, v) => a + (v - m) ** 2, 0) / n));
    const probs = predictProba(model, X);
    for (let c = 0; c < 3; c++) {
      const residual = Array.from({ length: n }, (_, i) => probs[i * 3 + c] - (y[i] === c ? 1 : 0));
      // bias is not penalised: predicted and observed class frequencies agree
      expect(residual.reduce((a, b) => a + b, 0) / n).toBeCloseTo(0, 6);
      for (let j = 0; j < d; j++) {
        const data = residual.reduce((a, r, i) => a + (r * (X.data[i * d + j] - mean[j])) / scale[j], 0) / n;
        expect(data + lambda * model.weights[c * d + j] * scale[j]).toBeCloseTo(0, 6);
      }
    }
  });

  it('is deterministic given the seed', () => {
    const { X, y } = clusters(200, 16, 3, 2, 6);
    const a = trainProbe(X, y, 3, Int32Array.from(y.keys()), { lambdas: [1e-3, 1e-1], folds: 3, seed: 9 });
    const b = trainProbe(X, y, 3, Int32Array.from(y.keys()), { lambdas: [1e-3, 1e-1], folds: 3, seed: 9 });
    expect(Array.from(a.model.weights)).toEqual(Array.from(b.model.weights));
    expect(a.cv).toEqual(b.cv);
  });

  it('fits a class missing from the training rows without blowing up', () => {
    const { X, y } = clusters(90, 4, 3, 8, 7);
    const rows = Int32Array.from([...y.keys()].filter((i) => y[i] !== 2));
    const model = fitLogistic(X, y, 3, 1e-2, rows);
    const predicted = argmaxRows(predictProba(model, X, rows), 3);
    expect(predicted.every((c) => c !== 2)).toBe(true);
    expect(Array.from(model.weights).every(Number.isFinite)).toBe(true);
  });
});

describe('stratified splits', () => {
  const y = Int32Array.from([...Array(40).fill(0), ...Array(20).fill(1), ...Array(4).fill(2), 3]);

  it('keeps class proportions, keeps singletons in training, and is reproducible', () => {
    const { train, test } = stratifiedSplit(y, 0.25, 1);
    const count = (idx: Int32Array, c: number) => [...idx].filter((i) => y[i] === c).length;
    expect([0, 1, 2, 3].map((c) => count(test, c))).toEqual([10, 5, 1, 0]);
    expect(train.length + test.length).toBe(y.length);
    expect(new Set([...train, ...test]).size).toBe(y.length);
    expect(stratifiedSplit(y, 0.25, 1)).toEqual({ train, test });
    expect(stratifiedSplit(y, 0.25, 2).test).not.toEqual(test);
  });

  it('deals every class across folds and samples proportionally', () => {
    const folds = stratifiedFolds(y, Int32Array.from(y.keys()), 4, 1);
    expect(folds.map((f) => [...f].filter((i) => y[i] === 0).length)).toEqual([10, 10, 10, 10]);
    expect(folds.reduce((n, f) => n + f.length, 0)).toBe(y.length);
    const sample = stratifiedSample(y, Int32Array.from(y.keys()), 20, 1);
    expect(sample.length).toBeLessThanOrEqual(20);
    expect([...sample].filter((i) => y[i] === 0).length).toBe(10);
  });
});
