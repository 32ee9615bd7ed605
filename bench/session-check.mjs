// What status pays to notice images deleted from session folders: generate's check of
// every image its rows place there (one listing per folder, one string per folder from
// the table), against the check of the folders alone (a stat per folder) measured in the
// same run. BENCH_IMAGES images (default 20,000) over 4 folders.
// Run: npx tsc -p . && npm run bench -- session-check
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { State } from '../dist/src/state.js';
import { missingSessionFolders } from '../dist/stages/generate/session-restore.js';

const images = Number(process.env.BENCH_IMAGES ?? 20_000);
const folders = 4;
const repeats = 9;
const dir = mkdtempSync(join(tmpdir(), 'sdloop-bench-sessions-'));
const state = await State.open(join(dir, 'state.duckdb'));
try {
  for (let f = 0; f < folders; f++) {
    mkdirSync(join(dir, 'data/sessions', `f${f}`), { recursive: true });
    writeFileSync(join(dir, 'data/sessions', `f${f}`, 'manifest.json'), '{}');
  }
  for (let i = 0; i < images; i++) writeFileSync(join(dir, 'data/sessions', `f${i % folders}`, `s_${String(i).padStart(5, '0')}_seed-${i}.png`), '');
  const table = join(dir, 'rendered.parquet');
  await state.run(`COPY (SELECT 'h' || i AS image_id, 'data/objects/h' || i || '.png' AS path, 'data/sessions/f' || (i % ${folders}) AS session_dir,
    's_' || lpad(i::VARCHAR, 5, '0') || '_seed-' || i || '.png' AS filename, 'ok' AS status FROM range(${images}) t(i)) TO '${table}' (FORMAT parquet)`);
  const ctx = { projectDir: dir, dataDir: join(dir, 'data'), sql: (q) => state.query(q) };
  const rendered = { kind: 'table', path: table };
  const foldersOnly = async () => {
    const rows = await state.query(`SELECT DISTINCT session_dir FROM read_parquet('${table}') WHERE session_dir <> ''`);
    return rows.filter((r) => !existsSync(join(dir, r.session_dir)));
  };
  const time = async (fn) => {
    const cpu = process.cpuUsage();
    const start = performance.now();
    const found = await fn();
    const used = process.cpuUsage(cpu);
    return { wall: performance.now() - start, cpu: (used.user + used.system) / 1000, found: found.length };
  };
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const runs = { folders: [], images: [] };
  for (let k = 0; k < repeats; k++) {
    runs.folders.push(await time(foldersOnly));
    runs.images.push(await time(() => missingSessionFolders(ctx, rendered)));
  }
  const line = (name, rs) => `${name.padEnd(28)} wall ${median(rs.map((r) => r.wall)).toFixed(1).padStart(7)} ms  cpu ${median(rs.map((r) => r.cpu)).toFixed(1).padStart(7)} ms  (found ${rs[0].found})`;
  console.log(`${images} images in ${folders} session folders, median of ${repeats}`);
  console.log(line('folders only (baseline)', runs.folders));
  console.log(line('every image (status check)', runs.images));
  console.log(`ratio: wall ${(median(runs.images.map((r) => r.wall)) / median(runs.folders.map((r) => r.wall))).toFixed(1)}x, cpu ${(median(runs.images.map((r) => r.cpu)) / median(runs.folders.map((r) => r.cpu))).toFixed(1)}x`);
} finally {
  await state.close();
  rmSync(dir, { recursive: true, force: true });
}
