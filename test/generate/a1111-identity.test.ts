// What an image rendered through A1111 is, when the request does not pin a checkpoint:
// the checkpoint the server has loaded and the LoRAs the server holds, by content. And a
// failed request retried leaves one row for its image. Through the real CLI against the
// A1111 stand-in.
import { afterEach, describe, expect, it } from 'vitest';
import { IdentityProject, itemsRun } from './identity-project.js';
import { standInLora, startA1111StandIn, type A1111StandIn } from '../standins/a1111-server.js';

let project: IdentityProject | undefined;
let server: A1111StandIn | undefined;
afterEach(async () => {
  project?.dispose();
  await server?.close();
});

const a1111 = (url: string, extra = '') => `{backend: a1111, endpoints: ["${url}"], concurrency: 1, retries: 0, backoff_ms: 10${extra}}`;

async function ranAgainst(stand: A1111StandIn, extra = ''): Promise<IdentityProject> {
  project = IdentityProject.create({ generate: a1111(stand.url, extra) });
  const first = await project.run();
  expect(first.code, first.stderr).toBe(0);
  expect(itemsRun(first, 'generate')).toBe(6);
  return project;
}

describe('the checkpoint loaded on the server is the identity of unpinned images', () => {
  it('a swap on the server reruns every image, status names both checkpoints, and swapping back renders nothing', async () => {
    server = await startA1111StandIn();
    const p = await ranAgainst(server);
    const before = server.loaded();
    expect((await p.status()).generate!.up_to_date).toBe(true);

    server.load('animefull');
    const stale = (await p.status()).generate!;
    expect(stale.up_to_date).toBe(false);
    expect(stale.reasons.join('\n')).toContain(`the A1111 checkpoint changed (v1-5-pruned-emaonly -> ${server.loaded().replace(/\.safetensors \[.*$/, '')})`);
    expect(before).toMatch(/^v1-5-pruned-emaonly\.safetensors \[[0-9a-f]{10}\]$/);
    const swapped = await p.run();
    expect(swapped.code, swapped.stderr).toBe(0);
    expect(itemsRun(swapped, 'generate')).toBe(6);
    expect(server.txt2img()).toHaveLength(12);
    expect(await p.sql('SELECT DISTINCT model_name FROM rendered')).toEqual([{ model_name: 'animefull' }]);

    server.load(before);
    const back = await p.run();
    expect(itemsRun(back, 'generate')).toBe(0);
    expect(server.txt2img()).toHaveLength(12);
  });
});

describe('a LoRA on the server counts by its content', () => {
  it('the same name with new weights (sshs_model_hash) reruns the images that use it; an unchanged listing none', async () => {
    server = await startA1111StandIn({ loras: [standInLora('inkstyle', 'aa11'), standInLora('other', 'cc33')] });
    const p = await ranAgainst(server, ", loras: ['inkstyle:0.8']");
    expect(server.txt2img()[0]!.prompt).toContain('<lora:inkstyle:0.8>');

    server.setLoras([standInLora('inkstyle', 'aa11'), standInLora('other', 'dd44')]);
    expect(itemsRun(await p.run(), 'generate')).toBe(0);

    server.setLoras([standInLora('inkstyle', 'bb22'), standInLora('other', 'dd44')]);
    expect((await p.status()).generate!.reasons.join('\n')).toContain("+6 to run");
    const retrained = await p.run();
    expect(itemsRun(retrained, 'generate')).toBe(6);
  });
});

describe('a failed request retried leaves one row per image', () => {
  it('an HTTP 500 fails one image; the next run renders it alone and rendered and images hold one row each', async () => {
    server = await startA1111StandIn({ fault: (n) => (n === 2 ? 'error500' : 'ok') });
    project = IdentityProject.create({ generate: a1111(server.url) });
    const first = await project.run();
    expect(first.stages.find((s) => s.name === 'generate')!.items).toMatchObject({ failed: 1 });
    const retry = await project.run();
    expect(retry.code, retry.stderr).toBe(0);
    expect(retry.stages.find((s) => s.name === 'generate')!.items).toEqual({ done: 1, failed: 0, reused: 5 });
    for (const table of ['rendered', 'images']) {
      const rows = await project.sql<{ n: number; ids: number; failed: number }>(
        `SELECT count(*)::INTEGER AS n, count(DISTINCT prompt_id)::INTEGER AS ids, count(*) FILTER (status = 'failed')::INTEGER AS failed FROM ${table}`,
      );
      expect(rows, table).toEqual([{ n: 6, ids: 6, failed: 0 }]);
    }
  });
});
