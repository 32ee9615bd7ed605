// Seeded, stratified splits and the k-fold search for the probe's L2 strength.
// Everything is a pure function of (labels, seed), so a re-run splits identically.
import { evaluate, fitLogistic, predictProba, type FitResult, type Matrix } from './logistic.js';

/** mulberry32: a small, fast, seedable generator; Math.random is not reproducible. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffled<T>(items: T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** Row indexes (taken from `idx`, default all) grouped by class, each group shuffled. */
function byClass(labels: Int32Array, idx: ArrayLike<number>, random: () => number): number[][] {
  const groups = new Map<number, number[]>();
  for (let r = 0; r < idx.length; r++) {
    const i = idx[r];
    const group = groups.get(labels[i]) ?? [];
    group.push(i);
    groups.set(labels[i], group);
  }
  return [...groups.keys()].sort((a, b) => a - b).map((c) => shuffled(groups.get(c)!, random));
}

/**
 * Held-out split of `idx` (default: all rows) keeping class proportions. A class with one example stays in training
 * (a probe cannot learn what it never saw); every class with two or more puts at least
 * one in the test set when testFraction > 0.
 */
export function stratifiedSplit(
  labels: Int32Array,
  testFraction: number,
  seed: number,
  idx: Int32Array = Int32Array.from(labels.keys()),
) {
  const random = seededRandom(seed);
  const train: number[] = [];
  const test: number[] = [];
  for (const group of byClass(labels, idx, random)) {
    let nTest = Math.round(group.length * testFraction);
    if (testFraction > 0 && group.length >= 2) nTest = Math.max(1, nTest);
    nTest = Math.min(nTest, group.length - 1);
    test.push(...group.slice(0, nTest));
    train.push(...group.slice(nTest));
  }
  const ascending = (a: number, b: number) => a - b;
  return { train: Int32Array.from(train.sort(ascending)), test: Int32Array.from(test.sort(ascending)) };
}

/** `folds` disjoint index sets over `idx`, each class dealt round-robin across them. */
export function stratifiedFolds(labels: Int32Array, idx: Int32Array, folds: number, seed: number): Int32Array[] {
  const random = seededRandom(seed);
  const out: number[][] = Array.from({ length: folds }, () => []);
  let next = 0;
  for (const group of byClass(labels, idx, random)) {
    for (const i of group) {
      out[next].push(i);
      next = (next + 1) % folds;
    }
  }
  return out.map((fold) => Int32Array.from(fold.sort((a, b) => a - b)));
}

export interface LambdaScore {
  lambda: number;
  accuracy: number;
  logLoss: number;
}

export interface ProbeOptions {
  lambdas: number[];
  folds: number;
  seed: number;
  maxIterations?: number;
  /** cross-validate on a stratified sample of at most this many rows (the final fit uses all) */
  cvMaxRows?: number;
}

/**
 * Mean held-out accuracy (ties: log-loss) of each lambda over stratified folds of `idx`.
 * Each fold walks the lambdas from strongest to weakest, warm-starting from the previous
 * solution, which costs a fraction of fitting each one from zero.
 */
export function crossValidate(X: Matrix, y: Int32Array, classes: number, idx: Int32Array, options: ProbeOptions): LambdaScore[] {
  const lambdas = [...options.lambdas].sort((a, b) => b - a);
  const folds = stratifiedFolds(y, idx, Math.max(2, options.folds), options.seed);
  const totals = lambdas.map((lambda) => ({ lambda, accuracy: 0, logLoss: 0 }));
  for (const [f, held] of folds.entries()) {
    if (held.length === 0) continue;
    const fitRows = Int32Array.from(folds.flatMap((fold, g) => (g === f ? [] : [...fold])));
    let previous: FitResult | undefined;
    for (const [l, lambda] of lambdas.entries()) {
      previous = fitLogistic(X, y, classes, lambda, fitRows, { init: previous, maxIterations: options.maxIterations });
      const score = evaluate(predictProba(previous, X, held), classes, y, held);
      totals[l].accuracy += (score.accuracy * held.length) / idx.length;
      totals[l].logLoss += (score.logLoss * held.length) / idx.length;
    }
  }
  return totals;
}

export function bestLambda(scores: LambdaScore[]): number {
  const ranked = [...scores].sort(
    (a, b) => b.accuracy - a.accuracy || a.logLoss - b.logLoss || b.lambda - a.lambda,
  );
  return ranked[0].lambda;
}

/** A stratified sample of about `max` rows of `idx` (all of them when fewer). */
export function stratifiedSample(labels: Int32Array, idx: Int32Array, max: number, seed: number): Int32Array {
  if (idx.length <= max) return idx;
  return stratifiedFolds(labels, idx, Math.ceil(idx.length / max), seed)[0];
}

/**
 * Choose lambda by cross-validation on `idx` (sampled down to cvMaxRows: the search
 * costs folds x lambdas fits, the final fit only one), then fit it on all of `idx`.
 */
export function trainProbe(X: Matrix, y: Int32Array, classes: number, idx: Int32Array, options: ProbeOptions) {
  const cvRows = stratifiedSample(y, idx, options.cvMaxRows ?? Infinity, options.seed);
  const cv = options.lambdas.length > 1 ? crossValidate(X, y, classes, cvRows, options) : [];
  const lambda = cv.length ? bestLambda(cv) : options.lambdas[0];
  const model = fitLogistic(X, y, classes, lambda, idx, { maxIterations: options.maxIterations });
  return { model, lambda, cv };
}
