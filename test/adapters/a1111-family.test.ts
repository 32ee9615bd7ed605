// The size a request gets when its prompt file sets none: the checkpoint family's native
// size (SDXL 1024x1024, SD 1.5 512x512), told from the checkpoint file's header when the
// server's file is readable here, else from its name; generate.family overrides both.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { familyFromFile, familyFromName } from '../../adapters/a1111-family.js';
import { writeSafetensors } from '../../adapters/safetensors.js';
import { createBackend, generateParams, renderFamily } from '../../stages/generate/backend.js';
import { startA1111StandIn, standInModel, type A1111StandIn } from '../standins/a1111-server.js';
import { promptRow } from '../generate/rows.js';

const dir = mkdtempSync(join(tmpdir(), 'sdloop-family-'));
const servers: A1111StandIn[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const tiny = { dtype: 'F32' as const, shape: [1], data: new Float32Array([0]) };

async function sentSize(server: A1111StandIn, over: Record<string, unknown>, params: Record<string, unknown> = {}) {
  const backend = await createBackend(generateParams.parse({ backend: 'a1111', endpoints: [server.url], ...over }), { projectDir: '.' });
  await backend.render(promptRow(0, { params }));
  await backend.close();
  const body = server.txt2img().at(-1)!;
  return `${body.width}x${body.height}`;
}

describe('checkpoint family', () => {
  it('is SDXL when a word of the name says so, SD 1.5 otherwise', () => {
    const xl = ['sd_xl_base_1.0.safetensors [31e35c80fc]', 'juggernautXL_v9Rundiffusionphoto2', 'ponyDiffusionV6XL', 'illustriousXL_v01', 'noobaiXLNAIXL_epsilonPred11Version'];
    const sd15 = ['v1-5-pruned-emaonly.safetensors [6ce0161689]', 'dreamshaper_8', 'realisticVisionV60B1_v51HyperVAE', 'pixel_art'];
    expect(xl.map(familyFromName)).toEqual(xl.map(() => 'sdxl'));
    expect(sd15.map(familyFromName)).toEqual(sd15.map(() => 'sd15'));
  });

  it("reads the file's header: modelspec.architecture, else SDXL's second text encoder", async () => {
    const spec = join(dir, 'spec.safetensors');
    await writeSafetensors(spec, { w: tiny }, { 'modelspec.architecture': 'stable-diffusion-xl-v1-base' });
    const tensors = join(dir, 'tensors.safetensors');
    await writeSafetensors(tensors, { 'conditioner.embedders.1.model.ln_final.weight': tiny });
    const sd15 = join(dir, 'sd15.safetensors');
    await writeSafetensors(sd15, { 'cond_stage_model.transformer.text_model.final_layer_norm.weight': tiny });
    expect([await familyFromFile(spec), await familyFromFile(tensors), await familyFromFile(sd15)]).toEqual(['sdxl', 'sdxl', 'sd15']);
    expect(await familyFromFile(join(dir, 'absent.safetensors'))).toBeNull();
  });
});

describe('the size a request gets', () => {
  it("is the loaded or pinned checkpoint's native size when the prompt file gives none, and the file's when it does", async () => {
    const server = await startA1111StandIn({ models: [standInModel('sd_xl_base_1.0'), standInModel('v1-5-pruned-emaonly')] });
    servers.push(server);
    expect(await sentSize(server, {})).toBe('1024x1024');
    expect(await sentSize(server, { model: 'v1-5-pruned-emaonly' })).toBe('512x512');
    expect(await sentSize(server, {}, { width: 832, height: 1216 })).toBe('832x1216');
    expect(await sentSize(server, { family: 'sd15' })).toBe('512x512');
    server.load('v1-5-pruned-emaonly');
    expect(await sentSize(server, {})).toBe('512x512');
  });

  it('follows the header of a checkpoint file the server shares with this machine, over its name', async () => {
    const file = join(dir, 'mystery.safetensors');
    await writeSafetensors(file, { 'conditioner.embedders.1.model.ln_final.weight': tiny });
    const server = await startA1111StandIn({ models: [{ ...standInModel('mystery'), filename: file }] });
    servers.push(server);
    expect(await sentSize(server, {})).toBe('1024x1024');
  });

  it('goes by the pinned name while every server is down, and asks for generate.family when nothing is pinned', async () => {
    const server = await startA1111StandIn();
    servers.push(server);
    await server.down();
    const params = (over: Record<string, unknown>) => generateParams.parse({ backend: 'a1111', endpoints: [server.url], ...over });
    expect((await renderFamily(params({ model: 'juggernautXL_v9' }))).family).toBe('sdxl');
    await expect(renderFamily(params({}))).rejects.toThrow(/cannot tell the checkpoint's family \(set generate.family to sd15 or sdxl\)/);
  });
});
