// Limited-memory BFGS with a backtracking (Armijo) line search, for smooth convex
// objectives such as the logistic probe's. Deterministic: no randomness anywhere.

export type Objective = (x: Float64Array, grad: Float64Array) => number;

export interface LbfgsOptions {
  maxIterations: number;
  /** stop when the largest gradient component falls below this */
  tolerance: number;
  memory?: number;
}

export interface LbfgsResult {
  x: Float64Array;
  f: number;
  iterations: number;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function maxAbs(a: Float64Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** Two-loop recursion: the quasi-Newton descent direction -H g. */
function direction(g: Float64Array, s: Float64Array[], y: Float64Array[], rho: number[]): Float64Array {
  const q = new Float64Array(g);
  const alpha = new Array<number>(s.length);
  for (let i = s.length - 1; i >= 0; i--) {
    alpha[i] = rho[i] * dot(s[i], q);
    for (let j = 0; j < q.length; j++) q[j] -= alpha[i] * y[i][j];
  }
  const last = s.length - 1;
  const gamma = last >= 0 ? dot(s[last], y[last]) / dot(y[last], y[last]) : 1 / Math.max(Math.sqrt(dot(g, g)), 1e-12);
  for (let j = 0; j < q.length; j++) q[j] *= gamma;
  for (let i = 0; i < s.length; i++) {
    const beta = rho[i] * dot(y[i], q);
    for (let j = 0; j < q.length; j++) q[j] += (alpha[i] - beta) * s[i][j];
  }
  for (let j = 0; j < q.length; j++) q[j] = -q[j];
  return q;
}

export function lbfgs(fn: Objective, start: Float64Array, options: LbfgsOptions): LbfgsResult {
  const memory = options.memory ?? 10;
  let x = new Float64Array(start);
  let g = new Float64Array(x.length);
  let f = fn(x, g);
  const s: Float64Array[] = [];
  const y: Float64Array[] = [];
  const rho: number[] = [];
  let iterations = 0;
  while (iterations < options.maxIterations && maxAbs(g) > options.tolerance) {
    let d = direction(g, s, y, rho);
    let slope = dot(g, d);
    if (slope >= 0) {
      // lost positive curvature: restart from steepest descent
      s.length = y.length = rho.length = 0;
      d = direction(g, s, y, rho);
      slope = dot(g, d);
    }
    let step = 1;
    const xNew = new Float64Array(x.length);
    const gNew = new Float64Array(x.length);
    let fNew = Infinity;
    for (let tries = 0; tries < 40; tries++) {
      for (let j = 0; j < x.length; j++) xNew[j] = x[j] + step * d[j];
      fNew = fn(xNew, gNew);
      if (fNew <= f + 1e-4 * step * slope) break;
      step /= 2;
    }
    iterations++;
    if (!(fNew < f)) break;
    const sk = new Float64Array(x.length);
    const yk = new Float64Array(x.length);
    for (let j = 0; j < x.length; j++) {
      sk[j] = xNew[j] - x[j];
      yk[j] = gNew[j] - g[j];
    }
    const sy = dot(sk, yk);
    if (sy > 1e-12) {
      s.push(sk);
      y.push(yk);
      rho.push(1 / sy);
      if (s.length > memory) {
        s.shift();
        y.shift();
        rho.shift();
      }
    }
    const converged = Math.abs(f - fNew) <= 1e-12 * Math.max(1, Math.abs(f));
    x = xNew;
    g = gNew;
    f = fNew;
    if (converged) break;
  }
  return { x, f, iterations };
}
