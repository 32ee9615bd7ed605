// The memo writer commits finished batches in the background: batches that finish during
// a commit share the next one, each only once what the stage wrote beside it is durable,
// and a failed commit stops the stage without losing the batches committed before it.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { loadMemo, MemoWriter, type FinishedBatch, type MemoEntry } from '../../src/memo.js';
import { scratchState } from './scratch-state.js';

const scratch = scratchState('sdloop-memo-writer-', 'per-test');

function batch(from: number, count: number): FinishedBatch {
  const items = Array.from({ length: count }, (_, i) => ({ hash: `item${from + i}`, key: `k${from + i}`, outHash: `out${from + i}`, objects: '' }));
  return { items, rows: new Map([['upper', items.map((item) => ({ text: item.key.toUpperCase(), _item: item.hash, _ord: 0 }))]]) };
}

function writer(memo: Map<string, MemoEntry>, partDir: string, committed: number[], beforeCommit?: () => Promise<void>) {
  return new MemoWriter({
    beforeCommit,
    state: scratch.state,
    projectDir: scratch.dir,
    stage: 'upper',
    memoKey: 'memo-key',
    runId: 'run-1',
    partDir,
    columns: new Map([['upper', [['text', 'VARCHAR'], ['_item', 'VARCHAR'], ['_ord', 'BIGINT']]]]),
    memo,
    backlog: 100,
    committed: (n) => committed.push(n),
  });
}

it('commits every batch, grouping those queued while a commit runs', async () => {
  const memo = new Map<string, MemoEntry>();
  const committed: number[] = [];
  const w = writer(memo, join(scratch.dir, 'memo'), committed);
  for (let b = 0; b < 6; b++) await w.add(batch(b * 10, 10));
  await w.drain();
  expect(committed.reduce((a, b) => a + b, 0)).toBe(60);
  expect(committed.length).toBeLessThan(6);
  const stored = await loadMemo(scratch.state, 'upper', 'memo-key');
  expect(stored.size).toBe(60);
  expect(stored.get('item42')).toEqual(memo.get('item42'));
  expect(new Set([...stored.values()].map((e) => e.part)).size).toBe(committed.length);
  const [{ n }] = await scratch.state.query<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM read_parquet('${scratch.dir}/memo/*.upper.parquet')`);
  expect(n).toBe(60);
});

it('rejects once a commit fails, keeping what was committed before', async () => {
  const memo = new Map<string, MemoEntry>();
  const w = writer(memo, join(scratch.dir, 'memo'), []);
  await w.add(batch(0, 5));
  await w.drain();
  // A file where the parts' folder should be makes the next Parquet write fail.
  rmSync(join(scratch.dir, 'memo'), { recursive: true });
  writeFileSync(join(scratch.dir, 'memo'), 'not a folder');
  await w.add(batch(5, 5)).catch(() => undefined);
  await expect(w.drain()).rejects.toThrow();
  await expect(w.add(batch(10, 5))).rejects.toThrow();
  expect((await loadMemo(scratch.state, 'upper', 'memo-key')).size).toBe(5);
});

it('commits a group only after the stage made it durable, and not at all when that fails', async () => {
  const committed: number[] = [];
  const storedAtEachCall: number[] = [];
  const w = writer(new Map(), join(scratch.dir, 'memo'), committed, async () => {
    storedAtEachCall.push((await loadMemo(scratch.state, 'upper', 'memo-key')).size);
    await new Promise((wake) => setTimeout(wake, 20));
  });
  for (let b = 0; b < 4; b++) await w.add(batch(b * 10, 10));
  await w.drain();
  // Called once before each commit, when only the groups before it are stored.
  expect(storedAtEachCall).toEqual(committed.map((_, i) => committed.slice(0, i).reduce((a, b) => a + b, 0)));
  expect((await loadMemo(scratch.state, 'upper', 'memo-key')).size).toBe(40);

  const failing = writer(new Map(), join(scratch.dir, 'memo2'), [], async () => {
    throw new Error('the manifest could not be written');
  });
  await failing.add(batch(100, 5)).catch(() => undefined);
  await expect(failing.drain()).rejects.toThrow('the manifest could not be written');
  expect((await loadMemo(scratch.state, 'upper', 'memo-key')).has('item100')).toBe(false);
});
