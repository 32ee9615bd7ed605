import { afterEach, describe, expect, it } from 'vitest';
import { checkServer, txt2imgPayload, parseLoraSpec, lorasInPrompt } from '../../adapters/a1111.js';
import { createBackend, generateParams } from '../../stages/generate/backend.js';
import { parseParameters, readPngText } from '../../adapters/png-text.js';
import { startA1111StandIn, type A1111StandIn } from '../standins/a1111-server.js';
import { promptRow, promptRows } from '../generate/rows.js';

const servers: A1111StandIn[] = [];
async function standIn(...args: Parameters<typeof startA1111StandIn>) {
  const s = await startA1111StandIn(...args);
  servers.push(s);
  return s;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const params = (over: Record<string, unknown>) => generateParams.parse({ backend: 'a1111', backoff_ms: 20, timeout_s: 5, ...over });

describe('txt2img payload', () => {
  it('carries every parameter of the row, the pinned model and the LoRAs', () => {
    const row = promptRow(4, {
      params: {
        width: 512, height: 768, steps: 28, cfg_scale: 6.5, sampler: 'DPM++ 2M', scheduler: 'Karras', enable_hr: true,
        hr_scale: 1.5, hr_upscaler: 'Latent', denoising_strength: 0.4, hr_second_pass_steps: 10,
        alwayson_scripts: { ADetailer: { args: [true, false, { ad_model: 'face_yolov8n.pt' }] }, controlnet: { args: [{ module: 'canny' }] } },
      },
    });
    const payload = txt2imgPayload(row, { model: 'animefull', loras: [parseLoraSpec('<lora:bob:0.7>'), parseLoraSpec('style:0.5')] });
    expect(payload).toMatchObject({
      prompt: `${row.api_prompt}, <lora:bob:0.7>, <lora:style:0.5>`, negative_prompt: row.negative_prompt, seed: 1004,
      width: 512, height: 768, steps: 28, cfg_scale: 6.5, sampler_name: 'DPM++ 2M', scheduler: 'Karras', batch_size: 1, n_iter: 1,
      enable_hr: true, hr_scale: 1.5, hr_upscaler: 'Latent', denoising_strength: 0.4, hr_second_pass_steps: 10,
      alwayson_scripts: { ADetailer: { args: [true, false, { ad_model: 'face_yolov8n.pt' }] }, controlnet: { args: [{ module: 'canny' }] } },
      override_settings: { sd_model_checkpoint: 'animefull' }, override_settings_restore_afterwards: false,
      send_images: true, save_images: false,
    });
    expect(lorasInPrompt(String(payload.prompt))).toEqual([{ name: 'bob', weight: 0.7 }, { name: 'style', weight: 0.5 }]);
  });

  it('omits the scheduler and hires fields when unset', () => {
    const payload = txt2imgPayload(promptRow(1, { params: {} }));
    expect(payload).not.toHaveProperty('scheduler');
    expect(payload).not.toHaveProperty('enable_hr');
    expect(payload).not.toHaveProperty('override_settings');
  });
});

describe('server checks', () => {
  it('says clearly when the server is down or the model is missing', async () => {
    const s = await standIn();
    await expect(checkServer(s.url, 'nope')).rejects.toThrow(/model "nope" .* is not on .* it has: v1-5-pruned-emaonly.safetensors/);
    expect((await checkServer(s.url, 'animefull')).checkpoint).toMatch(/^animefull.safetensors \[/);
    await s.down();
    await expect(checkServer(s.url, null)).rejects.toThrow(/not reachable.*--api/);
    await expect(createBackend(params({ endpoints: [s.url] }), { projectDir: '.' })).rejects.toThrow(/no A1111 endpoint is reachable/);
  });
});

describe('a1111 backend against the stand-in', () => {
  it('renders through a pool, reading the real seed and model from info, and tags the PNG', async () => {
    const [a, b] = [await standIn({ latencyMs: 20 }), await standIn({ latencyMs: 20 })];
    // Not a timeout test: a loaded machine may take seconds to answer the first requests.
    const backend = await createBackend(params({ endpoints: [a.url, b.url], model: 'animefull', timeout_s: 60 }), { projectDir: '.' });
    const rows = promptRows(12).map((r, i) => (i === 0 ? { ...r, seed: -1 } : r));
    const results = await Promise.all(rows.map((r) => backend.render(r)));
    await backend.close();
    expect(results.filter((r) => r.status !== 'ok').map((r) => r.error)).toEqual([]);
    expect(new Set(results.map((r) => r.endpoint))).toEqual(new Set([a.url, b.url]));
    expect(results[0]!.seed).not.toBe(-1);
    expect(results[3]!.seed).toBe(1003);
    expect(results[3]!.modelName).toBe('animefull');
    const settings = parseParameters(readPngText(results[3]!.png!).parameters!).settings;
    expect(settings).toMatchObject({ Model: 'animefull', Seed: '1003' });
    expect(a.txt2img().length + b.txt2img().length).toBe(12);
    expect(a.txt2img()[0]!.override_settings).toEqual({ sd_model_checkpoint: 'animefull' });
  });

  it('retries 500s, resets and timeouts with backoff; records requests that keep failing; nothing lost', async () => {
    const attempts = new Map<number, number>();
    const fault = (_n: number, body: Record<string, unknown>) => {
      const seed = Number(body.seed);
      const attempt = (attempts.get(seed) ?? 0) + 1;
      attempts.set(seed, attempt);
      if (seed === 1005) return 'error500' as const; // fails every time
      if (attempt > 2) return 'ok' as const;
      if (seed % 3 === 0) return 'error500' as const;
      if (seed % 5 === 1) return 'reset' as const;
      if (seed === 1002 && attempt === 1) return 'hang' as const;
      return 'ok' as const;
    };
    const s = await standIn({ fault });
    const backend = await createBackend(params({ endpoints: [s.url], retries: 3, timeout_s: 0.5 }), { projectDir: '.' });
    const rows = promptRows(16);
    const results = await Promise.all(rows.map((r) => backend.render(r)));
    await backend.close();
    const failed = results.filter((r) => r.status === 'failed');
    expect(failed.map((r) => r.seed)).toEqual([1005]);
    expect(failed[0]!.error).toMatch(/HTTP 500 OutOfMemoryError.*after 4 attempts/);
    expect(attempts.get(1005)).toBe(4);
    expect(attempts.get(1011)).toBe(3);
    expect(results.filter((r) => r.status === 'ok').map((r) => r.seed).sort()).toEqual(rows.map((r) => r.seed).filter((x) => x !== 1005).sort());
  });

  it('keeps going when one endpoint is down, and uses it again once it is back', async () => {
    const [a, b] = [await standIn({ latencyMs: 10 }), await standIn({ latencyMs: 10 })];
    const backend = await createBackend(params({ endpoints: [a.url, b.url], concurrency: 1 }), { projectDir: '.' });
    await b.down();
    const first = await Promise.all(promptRows(8).map((r) => backend.render(r)));
    expect(first.every((r) => r.status === 'ok' && r.endpoint === a.url)).toBe(true);
    await b.up();
    await new Promise((r) => setTimeout(r, 200));
    const second = await Promise.all(promptRows(8).map((r) => backend.render(r)));
    await backend.close();
    expect(second.some((r) => r.endpoint === b.url)).toBe(true);
  });

  it('records all-black images as blank', async () => {
    const s = await standIn({ fault: () => 'black' });
    const backend = await createBackend(params({ endpoints: [s.url] }), { projectDir: '.' });
    const r = await backend.render(promptRow(0));
    await backend.close();
    expect(r.status).toBe('blank');
    expect(r.png).not.toBeNull();
  });
});
