// Benchmark of generate against the local A1111 stand-in with a fixed latency:
//  1. the runner's own overhead per image (HTTP, base64, PNG text, blank check, store,
//     session link and manifest), against bare txt2img calls to the same server;
//  2. throughput with 4 endpoints of 200 ms each (ideal: 4 x 5 = 20 images/s).
// Run: npx tsc -p . && node bench/generate.mjs   (or npm run bench -- generate)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pLimit from 'p-limit';

const repo = resolve(import.meta.dirname, '..');
const { default: stage } = await import('../dist/stages/generate/index.js');
const { makeTestContext } = await import('../dist/src/testing.js');

// The stand-in lives with the tests (TypeScript, node built-ins only): compile it alone.
const standInDir = mkdtempSync(join(tmpdir(), 'sdloop-bench-standin-'));
writeFileSync(join(standInDir, 'package.json'), '{"type":"module"}');
execFileSync(process.execPath, [join(repo, 'node_modules/typescript/bin/tsc'), join(repo, 'test/standins/a1111-server.ts'),
  '--outDir', standInDir, '--module', 'nodenext', '--target', 'es2022', '--types', 'node', '--skipLibCheck', '--ignoreConfig']);
const { startA1111StandIn } = await import(join(standInDir, 'a1111-server.js'));

function rows(n, offset = 0) {
  const keys = ['NeonBlue', 'Crimson', 'Silver'];
  const texts = ['neon blue hair', 'crimson hair', 'silver hair'];
  return Array.from({ length: n }, (_, k) => {
    const i = k + offset;
    return {
      prompt_id: `bench${i}`, source: 'bench', session: 'bench', theme: null, style: null, idx: i,
      prompt: `masterpiece, ${texts[i % 3]}`, api_prompt: `masterpiece, ${texts[i % 3]}`, negative_prompt: 'lowres',
      seed: 1000 + i, variations: { HairColor: { key: keys[i % 3], value: texts[i % 3], keys, texts } },
      params: { width: 512, height: 768, steps: 20 }, manifest: {},
    };
  });
}

/** Run the stage as the engine does: batches of batchSize(params), concurrency(params) at a time. */
async function runStage(items, generate) {
  const dir = mkdtempSync(join(tmpdir(), 'sdloop-bench-generate-'));
  const params = stage.params.parse({ generate });
  const ctx = makeTestContext({ dir, params, inputs: { prompts: items }, stage: 'generate' });
  const state = await stage.setup(ctx, items);
  const size = stage.batchSize(params);
  const limit = pLimit(stage.concurrency(params));
  const started = performance.now();
  const batches = [];
  for (let i = 0; i < items.length; i += size) batches.push(items.slice(i, i + size));
  const results = (await Promise.all(batches.map((b) => limit(() => stage.mapBatch(b, ctx, state))))).flat();
  await stage.finish(ctx, state, {});
  const seconds = (performance.now() - started) / 1000;
  await stage.teardown(state);
  rmSync(dir, { recursive: true, force: true });
  const failed = results.filter((r) => r.error).length;
  if (failed) throw new Error(`${failed} images failed in the benchmark`);
  return seconds;
}

async function bareCalls(url, n) {
  const started = performance.now();
  for (const row of rows(n)) {
    const res = await fetch(`${url}/sdapi/v1/txt2img`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: row.api_prompt, seed: row.seed }) });
    const body = await res.json();
    Buffer.from(body.images[0], 'base64');
    JSON.parse(body.info);
  }
  return (performance.now() - started) / 1000;
}

const latencyMs = 20;
const n = 200;
const one = await startA1111StandIn({ latencyMs, imageSize: 128 });
await runStage(rows(20, 10_000), { backend: 'a1111', endpoints: [one.url], concurrency: 1 }); // warm-up
const bare = await bareCalls(one.url, n);
const staged = await runStage(rows(n), { backend: 'a1111', endpoints: [one.url], concurrency: 1 });
await one.close();
const perImage = (staged * 1000) / n;
const barePerImage = (bare * 1000) / n;
console.log(`overhead: ${n} images, 1 endpoint, concurrency 1, server latency ${latencyMs} ms`);
console.log(`  bare txt2img calls: ${barePerImage.toFixed(2)} ms/image`);
console.log(`  generate stage:     ${perImage.toFixed(2)} ms/image (ratio ${(perImage / barePerImage).toFixed(3)})`);
console.log(`  runner overhead:    ${(perImage - barePerImage).toFixed(2)} ms/image beyond a bare call, ${(perImage - latencyMs).toFixed(2)} ms beyond the server latency (target < 5)`);

const zero = await startA1111StandIn({ latencyMs: 0, imageSize: 128 });
const bareZero = await bareCalls(zero.url, n);
const stagedZero = await runStage(rows(n), { backend: 'a1111', endpoints: [zero.url], concurrency: 1 });
await zero.close();
console.log(`  with 0 ms latency: bare ${((bareZero * 1000) / n).toFixed(2)} ms/image, stage ${((stagedZero * 1000) / n).toFixed(2)} ms/image: ${(((stagedZero - bareZero) * 1000) / n).toFixed(2)} ms of processing per image`);

const servers = await Promise.all([0, 1, 2, 3].map(() => startA1111StandIn({ latencyMs: 200, imageSize: 128 })));
const m = 160;
const seconds = await runStage(rows(m), { backend: 'a1111', endpoints: servers.map((s) => s.url), concurrency: 2 });
await Promise.all(servers.map((s) => s.close()));
const rate = m / seconds;
console.log(`throughput: ${m} images, 4 endpoints x 200 ms, concurrency 2 per endpoint`);
console.log(`  ${rate.toFixed(2)} images/s = ${(rate / 20).toFixed(3)} x the ideal 20 images/s (target >= 0.9, i.e. 18 images/s)`);
const k = 64;
const synthetic = await runStage(rows(k), { backend: 'synthetic', blank_rate: 0 });
console.log(`synthetic (demo) backend, 512x768: ${(k / synthetic).toFixed(1)} images/s (${((synthetic * 1000) / k).toFixed(1)} ms/image)`);
rmSync(standInDir, { recursive: true, force: true });
