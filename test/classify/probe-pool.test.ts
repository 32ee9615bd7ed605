import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { matrixFromRows } from '../../stages/classify/logistic.js';
import { seededRandom } from '../../stages/classify/cross-validation.js';
import { threadsFor, trainProbes, type ProbeJob } from '../../stages/classify/probe-pool.js';

// The worker script exists only compiled (npm test builds dist first): test that build.
const compiledPool = join(import.meta.dirname, '../../dist/stages/classify/probe-pool.js');

function jobs(): { X: ReturnType<typeof matrixFromRows>; jobs: ProbeJob[] } {
  const random = seededRandom(11);
  const rows = Array.from({ length: 240 }, () => Array.from({ length: 12 }, () => random() - 0.5));
  const X = matrixFromRows(rows);
  const options = { lambdas: [1e-3, 1e-1], folds: 3, seed: 1 };
  const make = (classes: number, feature: number): ProbeJob => {
    const y = Int32Array.from(rows, (r) => Math.min(classes - 1, Math.floor((r[feature] + 0.5) * classes)));
    return { y, train: Int32Array.from(y.keys()).filter((i) => i % 4 !== 0), classes, options };
  };
  return { X, jobs: [make(2, 0), make(3, 1), make(4, 2)] };
}

describe('probe pool', () => {
  it('uses as many threads as asked, never more than jobs; auto leaves one core free', () => {
    expect(threadsFor(8, 3)).toBe(3);
    expect(threadsFor(2, 3)).toBe(2);
    expect(threadsFor(0, 100)).toBeGreaterThanOrEqual(1);
    expect(threadsFor(0, 1)).toBe(1);
  });

  it('trains in-process from sources, one result per job', async () => {
    const { X, jobs: list } = jobs();
    const results = await trainProbes(X, list, 3);
    expect(results.map((r) => r.classes)).toEqual([2, 3, 4]);
    expect(results.every((r) => r.weights.length === r.classes * 12)).toBe(true);
  });

  it.skipIf(!existsSync(compiledPool))('gives identical probes on worker threads and in-process (compiled build)', async () => {
    const compiled = (await import(compiledPool)) as typeof import('../../stages/classify/probe-pool.js');
    const { X, jobs: list } = jobs();
    const threaded = await compiled.trainProbes(X, list, 3);
    const inProcess = await compiled.trainProbes(X, list, 1);
    expect(threaded.map((r) => [Array.from(r.weights), Array.from(r.bias), r.lambda, r.cv])).toEqual(
      inProcess.map((r) => [Array.from(r.weights), Array.from(r.bias), r.lambda, r.cv]),
    );
  });
});
