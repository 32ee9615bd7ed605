// train.deploy against the A1111 stand-in, and benchmark's check that the WebUI lists the
// candidate (by name and tensor hash) before it renders anything with it.
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeTestContext, runWholeStage } from '../../src/testing.js';
import { listLoras } from '../../adapters/a1111.js';
import { loraInfoRow, type LoraInfoRow } from '../../schemas/tables.js';
import { readSafetensorsHeader } from '../../adapters/safetensors.js';
import { writeSimulatedLora } from '../../demo/simulated-trainer.js';
import train from '../../stages/train/index.js';
import { makeBenchmarkStage } from '../../stages/benchmark/index.js';
import { createBackend } from '../../stages/generate/backend.js';
import { confirmDeployed } from '../../stages/benchmark/deploy-check.js';
import { startA1111StandIn, type A1111StandIn } from '../standins/a1111-server.js';
import { freshDir, makeDataset } from './fixtures.js';

const servers: A1111StandIn[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function webui() {
  const loraDir = join(freshDir('webui'), 'models', 'Lora');
  mkdirSync(loraDir, { recursive: true });
  const server = await startA1111StandIn({ loraDir });
  servers.push(server);
  return { server, loraDir };
}

async function trainWith(deploy: unknown): Promise<LoraInfoRow> {
  const dir = freshDir('train');
  const dataset = makeDataset(dir, { red_hair: ['sdloop, red hair'], blue_eyes: ['sdloop, blue eyes'] });
  const ctx = makeTestContext({ dir, stage: 'train', params: train.params.parse({ train: { deploy } }) });
  ctx.inputs.dataset = { kind: 'path', name: 'dataset', path: dataset, hash: 'feedc0de'.repeat(4) };
  const out = (await runWholeStage(train, ctx)) as { lora_info: unknown[] };
  // lora_info stores the path relative to the project; the checks read the file itself.
  const info = loraInfoRow.parse(out.lora_info[0]);
  return { ...info, path: join(dir, info.path) };
}

describe('train.deploy', () => {
  it('copies the LoRA into the WebUI folder and refreshes, so /sdapi/v1/loras lists it with its hash', async () => {
    const { server, loraDir } = await webui();
    const info = await trainWith({ lora_dir: loraDir, url: server.url });
    const listed = await listLoras(server.url);
    expect(listed.map((l) => [l.name, l.path])).toEqual([[info.name, join(loraDir, `${info.name}.safetensors`)]]);
    expect(listed[0]!.metadata.sshs_model_hash).toBe((await readSafetensorsHeader(info.path)).metadata.sshs_model_hash);
    await expect(confirmDeployed('benchmark', [server.url], info)).resolves.toBeUndefined();
    expect(server.requests.filter((r) => r.path === '/sdapi/v1/refresh-loras').map((r) => r.method)).toEqual(['POST']);
  });

  it('without the refresh the WebUI does not know it yet, and the check says what to set', async () => {
    const { server, loraDir } = await webui();
    const info = await trainWith({ lora_dir: loraDir });
    await expect(confirmDeployed('benchmark', [server.url], info)).rejects.toThrow(
      new RegExp(`the WebUI at ${server.url} does not list a LoRA named ${info.name} \\(GET /sdapi/v1/loras\\): set train.deploy.lora_dir to the WebUI's models/Lora folder and train.deploy.url`),
    );
  });

  it('an older file under the same name does not pass: the hash must be this round\'s', async () => {
    const { server, loraDir } = await webui();
    const info = await trainWith(null);
    const stale = join(loraDir, `${info.name}.safetensors`);
    await writeSimulatedLora(stale, { name: info.name, subsets: [], datasetHash: '0ld', dim: 4, alpha: 2, learningRate: 1e-4, steps: 1, epochs: 1, baseModel: 'demo', resolution: 512 });
    await fetch(`${server.url}/sdapi/v1/refresh-loras`, { method: 'POST' });
    await expect(confirmDeployed('benchmark', [server.url], info)).rejects.toThrow(/lists sdloop-\w+ \(.*\) with hash \w+, not this round's \w+/);
    copyFileSync(info.path, stale);
    await fetch(`${server.url}/sdapi/v1/refresh-loras`, { method: 'POST' });
    await expect(confirmDeployed('benchmark', [server.url], info)).resolves.toBeUndefined();
  });

  it('benchmark on the a1111 backend fails the round before rendering when the WebUI lacks the candidate', async () => {
    const { server } = await webui();
    const info = await trainWith(null);
    const stage = makeBenchmarkStage({ createBackend, createScorer: async () => { throw new Error('nothing should be scored'); } });
    const dir = freshDir('benchmark');
    const params = stage.params.parse({ benchmark: { axes: { Hair: { red: 'red hair', blonde: 'blonde hair' } } }, generate: { backend: 'a1111', endpoints: [server.url] } });
    const ctx = makeTestContext({ dir, stage: 'benchmark', params });
    ctx.inputs.lora = { kind: 'path', name: 'lora', path: join(info.path, '..'), hash: 'h' };
    ctx.inputs.lora_info = { kind: 'table', name: 'lora_info', path: 'memory', hash: 'h', rows: async <T>() => [info] as T[] };
    await expect(runWholeStage(stage, ctx)).rejects.toThrow(/stage benchmark failed: the WebUI at .* does not list a LoRA named .*: set train.deploy.lora_dir/);
    expect(server.txt2img()).toEqual([]);
  });
});
