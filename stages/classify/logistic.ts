// Multinomial logistic regression (softmax, L2 penalty) fitted by full-batch L-BFGS on
// Float64Array rows. Features are standardised inside the optimiser (mean and scale of
// the training rows) because CLIP embeddings share a large common direction that makes
// the raw problem badly conditioned; the returned weights are folded back so they apply
// to the features as given.
import { lbfgs } from './lbfgs.js';

/** Row-major dense matrix. */
export interface Matrix {
  data: Float64Array;
  rows: number;
  cols: number;
}

export interface LogisticModel {
  classes: number;
  dim: number;
  /** classes x dim, row-major, applying to unstandardised features */
  weights: Float64Array;
  bias: Float64Array;
  lambda: number;
}

export interface FitOptions {
  maxIterations?: number;
  tolerance?: number;
  /** start from this model (a warm start along a lambda path) */
  init?: LogisticModel;
}

export interface FitResult extends LogisticModel {
  iterations: number;
  loss: number;
}

export function matrixFromRows(rows: ArrayLike<number>[], cols = rows[0]?.length ?? 0): Matrix {
  const data = new Float64Array(rows.length * cols);
  rows.forEach((row, i) => {
    if (row.length !== cols) throw new Error(`row ${i} has ${row.length} values, expected ${cols}`);
    data.set(row as ArrayLike<number>, i * cols);
  });
  return { data, rows: rows.length, cols };
}

/** Scale every row to unit length (zero rows stay zero). */
export function l2NormalizeRows(matrix: Matrix): Matrix {
  const { rows, cols } = matrix;
  const data = new Float64Array(matrix.data);
  for (let i = 0; i < rows; i++) {
    let sum = 0;
    for (let j = i * cols; j < (i + 1) * cols; j++) sum += data[j] * data[j];
    const scale = sum > 0 ? 1 / Math.sqrt(sum) : 0;
    for (let j = i * cols; j < (i + 1) * cols; j++) data[j] *= scale;
  }
  return { data, rows, cols };
}

interface Standardiser {
  mean: Float64Array;
  scale: Float64Array;
}

function standardiserOf(X: Matrix, idx: Int32Array): Standardiser {
  const d = X.cols;
  const mean = new Float64Array(d);
  const sq = new Float64Array(d);
  for (const i of idx) {
    const off = i * d;
    for (let j = 0; j < d; j++) {
      const v = X.data[off + j];
      mean[j] += v;
      sq[j] += v * v;
    }
  }
  const scale = new Float64Array(d);
  for (let j = 0; j < d; j++) {
    mean[j] /= idx.length;
    const variance = sq[j] / idx.length - mean[j] * mean[j];
    scale[j] = variance > 1e-24 ? Math.sqrt(variance) : 1;
  }
  return { mean, scale };
}

/** Parameters in standardised space: [v (k*d) | b (k)]. */
function toRaw(params: Float64Array, k: number, d: number, st: Standardiser) {
  const weights = new Float64Array(k * d);
  const bias = new Float64Array(k);
  for (let c = 0; c < k; c++) {
    let shift = 0;
    for (let j = 0; j < d; j++) {
      const w = params[c * d + j] / st.scale[j];
      weights[c * d + j] = w;
      shift += w * st.mean[j];
    }
    bias[c] = params[k * d + c] - shift;
  }
  return { weights, bias };
}

function fromRaw(model: LogisticModel, st: Standardiser): Float64Array {
  const { classes: k, dim: d } = model;
  const params = new Float64Array(k * d + k);
  for (let c = 0; c < k; c++) {
    let shift = 0;
    for (let j = 0; j < d; j++) {
      params[c * d + j] = model.weights[c * d + j] * st.scale[j];
      shift += model.weights[c * d + j] * st.mean[j];
    }
    params[k * d + c] = model.bias[c] + shift;
  }
  return params;
}

// The two kernels below carry most of the run time. They walk four classes per pass over
// the row so each feature is loaded once for four products: about twice as fast in V8 as
// one class at a time.

/** Class scores of one row into `out`. */
function scoreRow(X: Float64Array, off: number, d: number, weights: Float64Array, bias: Float64Array, out: Float64Array) {
  const k = out.length;
  let c = 0;
  for (; c + 3 < k; c += 4) {
    const w0 = c * d;
    const w1 = w0 + d;
    const w2 = w1 + d;
    const w3 = w2 + d;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let j = 0; j < d; j++) {
      const x = X[off + j];
      s0 += weights[w0 + j] * x;
      s1 += weights[w1 + j] * x;
      s2 += weights[w2 + j] * x;
      s3 += weights[w3 + j] * x;
    }
    out[c] = s0 + bias[c];
    out[c + 1] = s1 + bias[c + 1];
    out[c + 2] = s2 + bias[c + 2];
    out[c + 3] = s3 + bias[c + 3];
  }
  for (; c < k; c++) {
    const w = c * d;
    let s = 0;
    for (let j = 0; j < d; j++) s += weights[w + j] * X[off + j];
    out[c] = s + bias[c];
  }
}

/** grad[c] += residual[c] * row, for every class c. */
function accumulateRow(X: Float64Array, off: number, d: number, residual: Float64Array, grad: Float64Array) {
  const k = residual.length;
  let c = 0;
  for (; c + 3 < k; c += 4) {
    const w0 = c * d;
    const w1 = w0 + d;
    const w2 = w1 + d;
    const w3 = w2 + d;
    const r0 = residual[c];
    const r1 = residual[c + 1];
    const r2 = residual[c + 2];
    const r3 = residual[c + 3];
    for (let j = 0; j < d; j++) {
      const x = X[off + j];
      grad[w0 + j] += r0 * x;
      grad[w1 + j] += r1 * x;
      grad[w2 + j] += r2 * x;
      grad[w3 + j] += r3 * x;
    }
  }
  for (; c < k; c++) {
    const w = c * d;
    const r = residual[c];
    for (let j = 0; j < d; j++) grad[w + j] += r * X[off + j];
  }
}

/** In place: scores -> probabilities; returns log-sum-exp. */
function softmaxInPlace(p: Float64Array): number {
  let max = -Infinity;
  for (let c = 0; c < p.length; c++) if (p[c] > max) max = p[c];
  let sum = 0;
  for (let c = 0; c < p.length; c++) {
    p[c] = Math.exp(p[c] - max);
    sum += p[c];
  }
  for (let c = 0; c < p.length; c++) p[c] /= sum;
  return max + Math.log(sum);
}

/** Mean cross-entropy + lambda/2 |v|^2 and its gradient, in standardised parameters. */
function objective(X: Matrix, y: Int32Array, idx: Int32Array, k: number, lambda: number, st: Standardiser) {
  const d = X.cols;
  const n = idx.length;
  return (params: Float64Array, grad: Float64Array): number => {
    const { weights, bias } = toRaw(params, k, d, st);
    const gw = new Float64Array(k * d);
    const gb = new Float64Array(k);
    const p = new Float64Array(k);
    let loss = 0;
    for (const i of idx) {
      const off = i * d;
      scoreRow(X.data, off, d, weights, bias, p);
      const target = p[y[i]];
      loss += softmaxInPlace(p) - target;
      p[y[i]] -= 1;
      for (let c = 0; c < k; c++) gb[c] += p[c];
      accumulateRow(X.data, off, d, p, gw);
    }
    let penalty = 0;
    for (let c = 0; c < k; c++) {
      for (let j = 0; j < d; j++) {
        const v = params[c * d + j];
        penalty += v * v;
        // d/dv of the data term: sum_i r (x - mean) / scale, centred via the bias gradient
        grad[c * d + j] = (gw[c * d + j] - gb[c] * st.mean[j]) / st.scale[j] / n + lambda * v;
      }
      grad[k * d + c] = gb[c] / n;
    }
    return loss / n + (lambda / 2) * penalty;
  };
}

/** Fit on the rows `idx` of X (all rows when omitted); y holds class indexes 0..classes-1. */
export function fitLogistic(
  X: Matrix,
  y: Int32Array,
  classes: number,
  lambda: number,
  idx: Int32Array = allRows(X.rows),
  options: FitOptions = {},
): FitResult {
  const d = X.cols;
  const st = standardiserOf(X, idx);
  const start = options.init ? fromRaw(options.init, st) : new Float64Array(classes * d + classes);
  const result = lbfgs(objective(X, y, idx, classes, lambda, st), start, {
    maxIterations: options.maxIterations ?? 200,
    tolerance: options.tolerance ?? 1e-5,
  });
  const { weights, bias } = toRaw(result.x, classes, d, st);
  return { classes, dim: d, weights, bias, lambda, iterations: result.iterations, loss: result.f };
}

export function allRows(n: number): Int32Array {
  return Int32Array.from({ length: n }, (_, i) => i);
}

/** Class probabilities, rows x classes, for the rows `idx` of X (all when omitted). */
export function predictProba(model: LogisticModel, X: Matrix, idx: Int32Array = allRows(X.rows)): Float64Array {
  const out = new Float64Array(idx.length * model.classes);
  const p = new Float64Array(model.classes);
  idx.forEach((i, r) => {
    scoreRow(X.data, i * X.cols, X.cols, model.weights, model.bias, p);
    softmaxInPlace(p);
    out.set(p, r * model.classes);
  });
  return out;
}

export function argmaxRows(probs: Float64Array, classes: number): Int32Array {
  const out = new Int32Array(probs.length / classes);
  for (let r = 0; r < out.length; r++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (probs[r * classes + c] > probs[r * classes + best]) best = c;
    out[r] = best;
  }
  return out;
}

/** Accuracy and mean log-loss of probabilities (rows aligned with idx) against y. */
export function evaluate(probs: Float64Array, classes: number, y: Int32Array, idx: Int32Array) {
  const predicted = argmaxRows(probs, classes);
  let correct = 0;
  let loss = 0;
  idx.forEach((i, r) => {
    if (predicted[r] === y[i]) correct++;
    loss -= Math.log(Math.max(probs[r * classes + y[i]], 1e-15));
  });
  return { accuracy: idx.length ? correct / idx.length : NaN, logLoss: idx.length ? loss / idx.length : NaN };
}
