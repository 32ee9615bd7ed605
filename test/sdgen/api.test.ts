// pipeline api <list> against the A1111 stand-in, and generate refusing a sampler,
// scheduler or upscaler the server lacks before it sends any image, naming the closest.
import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { copyExampleProject } from '../example-project.js';
import { standInLists, startA1111StandIn, type A1111StandIn } from '../standins/a1111-server.js';
import { pipelineIn, writeFiles } from './cli.js';

const servers: A1111StandIn[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
async function standIn() {
  const s = await startA1111StandIn();
  servers.push(s);
  return s;
}

describe('pipeline api', () => {
  it('lists each kind from the first of generate.endpoints', async () => {
    const server = await standIn();
    const dir = copyExampleProject();
    writeFileSync(join(dir, 'pipeline.yaml'), readFileSync(join(dir, 'pipeline.yaml'), 'utf8').replace(/^(\s+endpoints:).*$/m, `$1 [${server.url}]`));
    const json = async (kind: string) => {
      const result = await pipelineIn(join(dir, 'data'), ['api', kind, '--format', 'json']);
      expect(result.code, result.stderr).toBe(0);
      return JSON.parse(result.stdout) as Record<string, unknown>[];
    };
    expect((await json('samplers')).map((s) => s.name)).toEqual(standInLists.samplers.map((s) => s.name));
    expect((await json('schedulers')).map((s) => s.label)).toContain('Karras');
    expect((await json('models')).map((m) => m.model_name)).toEqual(['v1-5-pruned-emaonly', 'animefull']);
    expect((await json('upscalers')).map((u) => u.name)).toContain('R-ESRGAN 4x+');
    expect((await json('loras')).map((l) => l.name)).toEqual(['bob']);
    expect((await json('adetailer-models')).map((m) => m.name)).toEqual(standInLists.adetailer.ad_model);
    expect(await json('controlnet-models')).toEqual(expect.arrayContaining([{ kind: 'model', name: 'control_v11p_sd15_openpose [cab727d4]' }, { kind: 'module', name: 'openpose' }]));
    const paths = server.requests.map((r) => r.path);
    expect(paths).toEqual(expect.arrayContaining(['/adetailer/v1/ad_model', '/controlnet/model_list', '/controlnet/module_list']));
  });

  it('works outside a project with --endpoint, as a table; a server that is down is said', async () => {
    const server = await standIn();
    const dir = writeFiles({});
    const table = await pipelineIn(dir, ['api', 'samplers', '--endpoint', server.url]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^name\s+aliases$/m);
    expect(table.stdout).toMatch(/^DPM\+\+ 2M\s+k_dpm_2m$/m);
    const bare = await startA1111StandIn({ extensions: false });
    servers.push(bare);
    const missing = await pipelineIn(dir, ['api', 'adetailer-models', '--endpoint', bare.url]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/HTTP 404 .*\(is the ADetailer extension installed on http:\/\/127\.0\.0\.1:\d+\?\)/);
    await server.down();
    const down = await pipelineIn(dir, ['api', 'models', '--endpoint', server.url]);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/cannot connect/);
  });
});

describe('generate checks names against the server', () => {
  const prompt = (parameters: string) => `name: car\nprompt: "{C} car"\nimports:\n  C: ../variations/colors.yaml\nparameters:\n${parameters}\ngeneration:\n  mode: combinatorial\n  seed: 1\n  seed_mode: fixed\n  max_images: 0\n`;

  async function generate(parameters: string) {
    const server = await standIn();
    const dir = writeFiles({ 'data/variations/colors.yaml': 'Red: red\nBlue: blue\n', 'data/prompts/car.prompt.yaml': prompt(parameters) }, copyExampleProject());
    const set = ['--set', 'resolve.prompts=[data/prompts/car.prompt.yaml]', '--set', 'generate.backend=a1111', '--set', `generate.endpoints=[${server.url}]`];
    return { server, result: await pipelineIn(dir, ['run', 'generate', ...set]) };
  }

  it('refuses a misspelt sampler before the first image, naming the closest', async () => {
    const { server, result } = await generate('  sampler: DPM++ 2M Karas');
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/sampler_name "DPM\+\+ 2M Karas" is not on http:\/\/127\.0\.0\.1:\d+; the closest it has is "DPM\+\+ 2M Karras"/);
    expect(server.txt2img()).toHaveLength(0);
  });

  it('refuses an unknown scheduler and hires upscaler; accepts the old sampler-with-schedule names', async () => {
    expect((await generate('  scheduler: Karas')).result.stderr).toMatch(/scheduler "Karas" .* the closest it has is "[kK]arras"/);
    expect((await generate('  enable_hr: true\n  hr_upscaler: R-ESRGAN 4x')).result.stderr).toMatch(/hr_upscaler "R-ESRGAN 4x" .*closest it has is "R-ESRGAN 4x\+"/);
    const ok = await generate('  sampler: DPM++ 2M Karras\n  enable_hr: true\n  hr_upscaler: Latent');
    expect(ok.result.code, ok.result.stderr).toBe(0);
    expect(ok.server.txt2img()).toHaveLength(2);
  });
});
