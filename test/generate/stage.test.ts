import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import generate from '../../stages/generate/index.js';
import { imageRow } from '../../schemas/tables.js';
import { sessionManifest, folderTimestamp, imageFileName } from '../../stages/generate/sessions.js';
import { makeTestContext, runMapStage } from '../../src/testing.js';
import { startA1111StandIn } from '../standins/a1111-server.js';
import { axesRows, promptRow, promptRows } from './rows.js';

function freshDir() {
  return mkdtempSync(join(tmpdir(), 'sdloop-generate-'));
}

function sessionFolders(dir: string) {
  const root = join(dir, 'data', 'sessions');
  return readdirSync(root).map((name) => ({ name, path: join(root, name), manifest: sessionManifest.parse(JSON.parse(readFileSync(join(root, name, 'manifest.json'), 'utf8'))) }));
}

describe('sdgen names', () => {
  it('names folders and files as sdgen does, or by the keys of output.filename_keys', () => {
    expect(folderTimestamp(new Date(2025, 0, 2, 3, 4, 5))).toBe('20250102_030405');
    expect(imageFileName(promptRow(7), 1007)).toBe('demo_0007_seed-1007.png');
    const keyed = promptRow(7, { manifest: { output: { filename_keys: ['Outfit', 'HairColor'] } } });
    expect(imageFileName(keyed, 1007)).toBe('demo_0007_formal_crimson.png');
    expect(imageFileName({ ...promptRow(6), manifest: keyed.manifest }, 1006)).toBe('demo_0006_casual_neon-blue.png');
  });
});

describe('generate stage', () => {
  it('renders every prompt with the synthetic backend into the store, a session folder and image rows', async () => {
    const dir = freshDir();
    const rows = promptRows(10).concat(promptRows(2).map((r) => ({ ...r, prompt_id: `${r.prompt_id}t`, theme: 'cyber', style: 'neon' })));
    const ctx = makeTestContext({ dir, params: generate.params.parse({ generate: { blank_rate: 0 } }), inputs: { axes: axesRows, prompts: rows } });
    const { tables, results } = await runMapStage(generate, ctx);
    expect(results.every((r) => !r.error)).toBe(true);
    const images = tables.rendered!.map((r) => imageRow.parse(r));
    expect(images.map((i) => i.prompt_id)).toEqual(rows.map((r) => r.prompt_id));
    for (const image of images) {
      expect(image).toMatchObject({ backend: 'synthetic', endpoint: 'synthetic', model_name: 'sdloop-synthetic-demo', status: 'ok', width: 64, height: 96 });
      // Stored relative to the project, so a moved project keeps its rows.
      expect(image.path).toMatch(/^data\/objects\//);
      expect(existsSync(join(dir, image.path))).toBe(true);
      expect(statSync(join(dir, image.session_dir, image.filename)).ino).toBe(statSync(join(dir, image.path)).ino);
      expect(Object.keys(image.rendered!)).toEqual(['HairColor', 'Outfit']);
    }
    const folders = sessionFolders(dir);
    expect(folders.map((f) => f.name.slice(16)).sort()).toEqual(['demo', 'demo-cyber-neon']);
    const demo = folders.find((f) => f.name.endsWith('-demo'))!;
    expect(demo.manifest.status).toBe('completed');
    expect(demo.manifest.snapshot).toMatchObject({ version: '2.0', runtime_info: { sd_model_checkpoint: expect.stringMatching(/^sdloop-synthetic-demo \[/) }, resolved_template: { prompt: 'masterpiece, {HairColor}, {Outfit}' }, generation_params: { mode: 'combinatorial' } });
    expect(demo.manifest.images).toHaveLength(10);
    expect(demo.manifest.images[1]).toEqual({ filename: 'demo_0001_seed-1001.png', seed: 1001, prompt: rows[1]!.prompt, negative_prompt: 'lowres, bad hands', applied_variations: { HairColor: 'crimson hair', Outfit: 'formal suit' } });
    expect(readdirSync(demo.path).filter((n) => n.endsWith('.png'))).toHaveLength(10);
  });

  it('records failed requests with their error, marks the session aborted, and a rerun reuses the folder', async () => {
    const dir = freshDir();
    let failing = true;
    const server = await startA1111StandIn({ fault: (_n, body) => (failing && body.seed === 1002 ? 'error500' : 'ok') });
    try {
      const params = generate.params.parse({ generate: { backend: 'a1111', endpoints: [server.url], retries: 1, backoff_ms: 10 } });
      const first = await runMapStage(generate, makeTestContext({ dir, params, inputs: { axes: axesRows, prompts: promptRows(4) } }));
      expect(first.results.map((r) => Boolean(r.error))).toEqual([false, false, true, false]);
      const failed = imageRow.parse(first.tables.rendered![2]);
      expect(failed).toMatchObject({ status: 'failed', image_id: '', path: '', error: expect.stringMatching(/HTTP 500/) });
      expect(sessionFolders(dir)[0]!.manifest).toMatchObject({ status: 'aborted' });
      failing = false;
      const second = await runMapStage(generate, makeTestContext({ dir, params, inputs: { axes: axesRows, prompts: [promptRow(2)] } }));
      expect(second.results[0]!.error).toBeUndefined();
      const [folder] = sessionFolders(dir);
      expect(sessionFolders(dir)).toHaveLength(1);
      expect(folder!.manifest.status).toBe('completed');
      expect(folder!.manifest.images.map((i) => i.filename).sort()).toEqual([0, 1, 2, 3].map((i) => `demo_000${i}_seed-${1000 + i}.png`));
    } finally {
      await server.close();
    }
  });
});
