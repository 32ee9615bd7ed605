// loop.promote merge through the `pipeline` binary against both stand-ins: the A1111
// stand-in (serving the synthetic world over its HTTP API, with its models/Lora and
// models/Stable-diffusion folders) and the sd-scripts stand-in (train_network.py and
// networks/merge_lora.py). Round 1's winner is merged into a real safetensors checkpoint,
// registered, copied into the WebUI, confirmed through /sdapi/v1/sd-models, and round 2
// renders with it pinned and trains on it.
import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parse } from 'yaml';
import { copyExampleProject } from '../example-project.js';
import { startA1111StandIn, type A1111StandIn } from '../standins/a1111-server.js';
import { syntheticWebUI } from '../standins/synthetic-webui.js';
import { standinDir } from '../train/fixtures.js';
import { readSafetensorsHeader, writeSafetensors } from '../../adapters/safetensors.js';
import { hashFile } from '../../src/hash.js';
import { benchmarkPrompts, benchmarkSettings } from '../../stages/benchmark/plan.js';
import type { AxisAlternativesRow, PromptRow } from '../../schemas/tables.js';

const cli = resolve(import.meta.dirname, '..', '..', 'bin', 'pipeline.js');
const servers: A1111StandIn[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** The CLI as a child process, awaited without blocking this process (it serves the WebUI). */
function pipeline(dir: string, ...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [cli, '-C', dir, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((done) => child.on('close', (code) => done({ code, stdout, stderr })));
}

async function sql<T>(dir: string, query: string): Promise<T[]> {
  const out = await pipeline(dir, 'sql', query, '--format', 'json');
  if (out.code !== 0) throw new Error(out.stderr);
  return JSON.parse(out.stdout) as T[];
}

/** The example project on A1111 and sd-scripts, merging winners, judged on hair colour alone (fewer renders). */
function webuiProject(url: string, loraDir: string, checkpointDir: string): string {
  const dir = copyExampleProject('sdloop-merge-webui-');
  const file = join(dir, 'pipeline.yaml');
  const yaml = readFileSync(file, 'utf8')
    .replace('    backend: synthetic\n    endpoints: [http://127.0.0.1:7860]\n', `    backend: a1111\n    endpoints: [${url}]\n`)
    .replace(/    trainer: simulated .*\n    sd_scripts_dir: null\n    launcher: accelerate .*\n    base_model: null\n/,
      `    trainer: sd-scripts\n    sd_scripts_dir: ${standinDir}\n    launcher: python3\n    base_model: base.safetensors\n    deploy: {lora_dir: ${loraDir}, url: "${url}"}\n`)
    .replace(/      Background: \{Garden: .*\n/, '')
    .replace('  benchmark:\n', `  loop:\n    promote: merge\n    checkpoint_dir: ${checkpointDir}\n  benchmark:\n`);
  if (!yaml.includes('backend: a1111') || !yaml.includes('trainer: sd-scripts') || yaml.includes('Garden: flower')) throw new Error('the example pipeline.yaml changed shape');
  writeFileSync(file, yaml);
  return dir;
}

type Planned = Omit<PromptRow, 'variations' | 'params'> & { variations: string; params: string };

/** Every row the run can send: resolve's planned rows and the benchmark's, with their alternatives. */
async function rowsOf(dir: string) {
  const planned = (await sql<Planned>(dir, 'select * from planned')).map((r) => ({ ...r, variations: JSON.parse(r.variations), params: JSON.parse(r.params) }) as PromptRow);
  const alternatives = new Map((await sql<AxisAlternativesRow>(dir, 'select * from planned_axes')).map((a) => [a.alternatives, a]));
  const bench = benchmarkPrompts(benchmarkSettings.parse(parse(readFileSync(join(dir, 'pipeline.yaml'), 'utf8')).params.benchmark));
  for (const [id, a] of bench.alternatives) alternatives.set(id, a);
  return { rows: [...planned, ...bench.prompts], alternatives };
}

describe('pipeline loop with loop.promote merge, A1111 and sd-scripts stand-ins', () => {
  it('merges the winner with merge_lora.py, registers it, has the WebUI list it, and round 2 pins it and trains on it', async () => {
    const webui = resolve(copyExampleProject('sdloop-webui-'), 'models');
    const loraDir = join(webui, 'Lora');
    const checkpointDir = join(webui, 'Stable-diffusion');
    mkdirSync(loraDir, { recursive: true });
    mkdirSync(checkpointDir, { recursive: true });
    let render: ReturnType<typeof syntheticWebUI> | null = null;
    const server = await startA1111StandIn({ loraDir, checkpointDir, imageSize: 64, render: (body, model, seeds) => render!(body, model, seeds) });
    servers.push(server);
    const dir = webuiProject(server.url, loraDir, checkpointDir);
    await writeSafetensors(join(dir, 'base.safetensors'), { 'lora_unet_mid_block_attentions_0_proj_out.weight': { dtype: 'F32', shape: [4, 4], data: new Float32Array(16).fill(0.5) } }, {});

    expect((await pipeline(dir, 'run', 'resolve')).code).toBe(0);
    render = syntheticWebUI({ ...(await rowsOf(dir)), loraDir, checkpointDir, failureRate: 0.3, blankRate: 0.03 });
    const loop = await pipeline(dir, 'loop', '--rounds', '2');
    expect(loop.code, loop.stderr).toBe(0);

    const rounds = await sql<{ round: number; lora: string; verdict: string; reason: string }>(dir, 'select round, lora, verdict, reason from loop_rounds order by round');
    expect(rounds).toHaveLength(2);
    expect(rounds[0]!.verdict, rounds[0]!.reason).toBe('promote');
    const [merged] = await sql<{ name: string; path: string; hash: string; base: string; lora: string; ratio: number; round: number }>(dir, 'select * from merged_checkpoints order by round');
    expect(merged).toMatchObject({ name: `${rounds[0]!.lora}-merged`, base: 'base.safetensors', lora: rounds[0]!.lora, round: 1 });

    // A real safetensors checkpoint, written by merge_lora.py, whose content is the one registered.
    const file = join(dir, merged!.path);
    expect(await hashFile(file)).toBe(merged!.hash);
    const { metadata, tensors } = await readSafetensorsHeader(file);
    // The LoRA merged is train's stored object (named by its hash), at the benchmark's weight.
    expect(metadata['modelspec.merged_from']).toMatch(/^base, [0-9a-f]{32}$/);
    const log = readFileSync(join(dir, 'data', 'logs', `merge-${merged!.name}.log`), 'utf8');
    expect(log).toContain(`loading SD model: ${join(dir, 'base.safetensors')}`);
    expect(log).toContain(`"--ratios" "${merged!.ratio}"`);
    expect(log).toContain(`saving SD model to: ${file}`);
    expect(tensors['lora_unet_mid_block_attentions_0_proj_out.weight']).toMatchObject({ dtype: 'F16', shape: [4, 4] });

    // Copied into the WebUI, refreshed, and confirmed in its checkpoint list before it was recorded.
    const copied = join(checkpointDir, `${merged!.name}.safetensors`);
    expect(await hashFile(copied)).toBe(merged!.hash);
    expect(rounds[0]!.reason).toContain(`merged into ${merged!.path}; copied to ${copied}, listed by ${server.url}`);
    const paths = server.requests.map((r) => `${r.method} ${r.path}`);
    const refreshed = paths.indexOf('POST /sdapi/v1/refresh-checkpoints');
    expect(refreshed).toBeGreaterThan(0);
    expect(paths.slice(refreshed).includes('GET /sdapi/v1/sd-models')).toBe(true);

    // Round 2 renders with it pinned (every txt2img after the refresh) and trains on it.
    const after = server.requests.slice(refreshed).filter((r) => r.path === '/sdapi/v1/txt2img');
    expect(after.length).toBeGreaterThan(0);
    expect(new Set(after.map((r) => (r.body!.override_settings as Record<string, unknown> | undefined)?.sd_model_checkpoint))).toEqual(new Set([merged!.name]));
    const before = server.requests.slice(0, refreshed).filter((r) => r.path === '/sdapi/v1/txt2img');
    expect(before.every((r) => (r.body!.override_settings as Record<string, unknown> | undefined)?.sd_model_checkpoint === undefined)).toBe(true);
    const [trained] = await sql<{ name: string; base_model: string; path: string }>(dir, 'select name, base_model, path from lora_info');
    expect(trained!.name).toBe(rounds[1]!.lora);
    expect(trained!.base_model).toBe(merged!.path);
    expect((await readSafetensorsHeader(join(dir, trained!.path))).metadata.ss_sd_model_name).toBe(basename(merged!.path));
    expect(await sql(dir, "select distinct model_name from images where origin = 'generated'")).toEqual([{ model_name: merged!.name }]);
  }, 900_000);
});
