// What the run concludes from the workers' results and refusals: counts and rates for
// the progress lines, and when no worker will take the stage's batches.
import { expect, it } from 'vitest';
import { RemoteWorkers } from '../../src/remote-workers.js';
import type { WorkerStat } from '../../src/run-progress.js';

it('counts batches per worker and reports every change', () => {
  const reported: WorkerStat[][] = [];
  const workers = new RemoteWorkers((w) => reported.push(w));
  workers.batchDone('w1', 32);
  workers.batchDone('w1', 10);
  workers.connected(['w1', 'w2']);
  const [w1, w2] = reported.at(-1)!;
  expect(w1).toMatchObject({ name: 'w1', batches: 2, items: 42 });
  expect(w1!.rate).toBeGreaterThan(0);
  expect(w2).toMatchObject({ name: 'w2', batches: 0, items: 0 });
  expect(w2!.rate).toBeUndefined();
  expect(workers.describe()).toMatch(/^w1: 2 batches \(42 items, .* batches\/(s|min), seen \d+ s ago\)$/);
});

it('fails only when every connected worker refuses, or after the timeout with no batch back', () => {
  const workers = new RemoteWorkers(() => undefined);
  expect(workers.verdict(['stale', 'good'], 60)).toBeUndefined();
  expect(workers.refused('stale', 'its stage params differ')).toBe(true);
  expect(workers.refused('stale', 'its stage params differ')).toBe(false);
  expect(workers.verdict(['stale', 'good'], 60)).toBeUndefined();
  expect(workers.verdict(['stale'], 60)).toBe('no worker connected takes its batches: worker stale refuses: its stage params differ');
  expect(workers.verdict(['stale', 'good'], 0)).toBe("no worker of the run's code and params took a batch within 0 s: worker stale refuses: its stage params differ");
  // A batch came back since: the refusal no longer counts toward the timeout.
  workers.batchDone('good', 32);
  expect(workers.verdict(['stale', 'good'], 0)).toBeUndefined();
});
