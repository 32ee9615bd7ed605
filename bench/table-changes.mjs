// What counting a commit's table changes costs (src/table-changes.ts), next to what
// writing the new table version costs, both measured in this run on the same rows: an
// images-like table keyed on two columns and an embeddings-like one (512 floats a row).
// The ratio is the extra time a stage commit spends comparing the old and new versions.
// BENCH_ROWS changes the row count (default 100,000).
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import { State } from '../dist/src/state.js';
import { writeTableVersion } from '../dist/src/tables.js';
import { columnsOf } from '../dist/src/table-schema.js';
import { tableChange } from '../dist/src/table-changes.js';

const ROWS = Number(process.env.BENCH_ROWS ?? 100_000);
const dir = mkdtempSync(join(tmpdir(), 'sdloop-bench-changes-'));
const state = await State.open(join(dir, 'state.duckdb'));

const images = z.object({ prompt_id: z.string(), seed: z.number().int(), image_id: z.string(), status: z.string(), gen_ms: z.number(), loras: z.array(z.string()) });
const embeddings = z.object({ image_id: z.string(), model: z.string(), embedding: z.array(z.number()) });
// `redo` rows (one in 97) come back failed in the new version: rows changed in place.
const imageRows = (n, salt, redo = false) => Array.from({ length: n }, (_, i) => ({ prompt_id: `p${i}`, seed: i, image_id: `${salt}${i}`, status: redo && i % 97 === 0 ? 'failed' : 'ok', gen_ms: Math.random() * 100, loras: [] }));
const embeddingRows = (n) => Array.from({ length: n }, (_, i) => ({ image_id: `i${i}`, model: 'clip', embedding: Array.from({ length: 512 }, (_, j) => ((i * 31 + j) % 101) / 101) }));

function cpu() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

async function timed(work) {
  const wall = performance.now();
  const cpuStart = cpu();
  const result = await work();
  return { result, wall: performance.now() - wall, cpu: cpu() - cpuStart };
}

async function measure(name, schema, decl, before, after) {
  const columns = columnsOf(schema);
  const old = await writeTableVersion(state, dir, `${name}_old`, columns, before, decl.runFacts);
  const write = await timed(() => writeTableVersion(state, dir, name, columns, after, decl.runFacts));
  const count = await timed(() => tableChange(state, name, { kind: 'table', schema, ...decl }, write.result.path, old.path));
  const { added, removed, changed } = count.result;
  process.stdout.write(`${name} (${after.length} rows): write ${write.wall.toFixed(0)} ms wall / ${write.cpu.toFixed(0)} ms CPU; count changes ${count.wall.toFixed(0)} ms wall / ${count.cpu.toFixed(0)} ms CPU (x${(count.wall / write.wall).toFixed(2)} of the write); +${added} -${removed} ~${changed}\n`);
}

process.stdout.write(`${cpus().length} cores, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
const imagesBefore = imageRows(ROWS, 'a');
await measure('images', images, { runFacts: ['gen_ms'], key: ['prompt_id', 'seed'] }, imagesBefore, [...imageRows(ROWS, 'a', true), ...imageRows(ROWS / 100, 'b').map((r, i) => ({ ...r, prompt_id: `new${i}` }))]);
const embeddingCount = Math.min(ROWS, 20_000);
await measure('embeddings', embeddings, { key: ['image_id', 'model'] }, embeddingRows(embeddingCount), embeddingRows(embeddingCount + embeddingCount / 100));
await state.close();
rmSync(dir, { recursive: true, force: true });
