import { beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';
import { preprocessFromConfig } from '../../adapters/clip-preprocess.js';
import * as source from '../../stages/score/preprocess-pool.js';

// Worker threads run compiled JavaScript, so the pool is compiled here as it ships.
let compiled: typeof source;
beforeAll(() => {
  const out = mkdtempSync(join(tmpdir(), 'sdloop-pool-'));
  const root = resolve(__dirname, '../..');
  const tsc = join(root, 'node_modules', '.bin', 'tsc');
  execFileSync(tsc, [
    '--outDir', out, '--rootDir', root, '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022',
    '--strict', '--skipLibCheck', '--types', 'node', '--ignoreConfig',
    join(root, 'stages/score/preprocess-pool.ts'), join(root, 'stages/score/preprocess-worker.ts'),
  ], { cwd: root, stdio: 'pipe' });
  expect(existsSync(join(out, 'stages/score/preprocess-worker.js'))).toBe(true);
  symlinkSync(join(root, 'node_modules'), join(out, 'node_modules'), 'dir');
  return import(pathToFileURL(join(out, 'stages/score/preprocess-pool.js')).href).then((m) => (compiled = m));
}, 120_000);

async function picture(seed: number): Promise<Uint8Array> {
  const data = Buffer.alloc(300 * 450 * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * seed + (i >> 7)) % 251;
  return sharp(data, { raw: { width: 300, height: 450, channels: 3 } }).png().toBuffer();
}

const sameFloats = (a: Float32Array, b: Float32Array) =>
  a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

describe('preprocessing on worker threads', () => {
  it('gives exactly what in-process preprocessing gives', async () => {
    const p = preprocessFromConfig({});
    const pool = compiled.createPreprocessor(2);
    expect(pool.workers).toBe(2);
    const pngs = await Promise.all([1, 2, 3, 4, 5].map(picture));
    const viaWorkers = await Promise.all(pngs.map((png) => pool.prepare(png, p)));
    const crops = await Promise.all(pngs.map((png) => pool.crop(png, p, [0, 0, 1, 0.5])));
    await pool.close();
    for (const [i, png] of pngs.entries()) {
      const local = await source.prepareImage(png, p);
      expect(viaWorkers[i].checks).toEqual(local.checks);
      expect(sameFloats(viaWorkers[i].pixels, local.pixels)).toBe(true);
      expect(sameFloats(crops[i], await source.prepareCrop(png, p, [0, 0, 1, 0.5]))).toBe(true);
    }
  });

  it('rejects the task of an unreadable image and keeps working', async () => {
    const p = preprocessFromConfig({});
    const pool = compiled.createPreprocessor(1);
    await expect(pool.prepare(new Uint8Array([1, 2, 3]), p)).rejects.toThrow();
    const ok = await pool.prepare(await picture(7), p);
    expect(ok.pixels).toHaveLength(3 * 224 * 224);
    await pool.close();
  });

  it('runs in-process when asked for no workers', () => {
    expect(source.createPreprocessor(0).workers).toBe(0);
  });
});
