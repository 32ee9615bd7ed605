// Item hashes come from the stage's identity, made a chunk of items at a time so that
// the identities of a large input never exist at once: every item still gets the hash
// of its own identity, in order, and equal identities still share one item.
import { expect, it } from 'vitest';
import { z } from 'zod';
import { loadItems } from '../../src/map-executor.js';
import { hashBytes } from '../../src/hash.js';
import { defineMapStage, type StageContext } from '../../src/stage.js';

it('hashes each item by its own identity across chunks, and keeps the first of equal identities', async () => {
  const count = 12_001;
  const calls: number[] = [];
  const stage = defineMapStage({
    description: 'numbers',
    params: z.object({}),
    outputs: {},
    over: 'numbers',
    key: 'n',
    batchSize: () => 1,
    concurrency: () => 1,
    // Every number but the last is its own identity; the last shares the first one's.
    items: async () => Array.from({ length: count }, (_, n) => ({ n })),
    identity: async (items) => {
      calls.push(items.length);
      return items.map((item) => ({ n: item.n === count - 1 ? 0 : item.n }));
    },
    mapBatch: async () => [],
  });
  const { items, hashes } = await loadItems(stage, { stage: 'numbers', inputs: {} } as unknown as StageContext);
  expect(calls.length).toBeGreaterThan(1);
  expect(calls.reduce((a, b) => a + b, 0)).toBe(count);
  expect(items.map((item) => item.n)).toEqual(Array.from({ length: count - 1 }, (_, n) => n));
  expect(hashes).toEqual(items.map((item) => hashBytes(JSON.stringify({ n: item.n }))));
});
