// pipeline serve over 40,000 images (x 4 axes): time to the first gallery page (the
// in-memory copy of the tables included), a warm page, a filtered page and an image with
// its neighbours, each through HTTP, next to a bare DuckDB SELECT of the same rows from
// the Parquet files. Run: npm run bench -- serve   (or: npx tsc -p . && node bench/serve.mjs)
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DuckDBInstance } from '@duckdb/node-api';
import { stringify } from 'yaml';

const IMAGES = Number(process.env.SERVE_BENCH_IMAGES ?? 40_000);
const AXES = 4;
const VALUES = 6;
const RUNS = 7;
const COLD_RUNS = 5;

const generators = {
  prompts: `SELECT 'p' || i AS prompt_id, 'prompts/t.prompt.yaml' AS source, 's' || (i % 20) AS session, NULL::VARCHAR AS theme, NULL::VARCHAR AS style,
      i AS idx, 'masterpiece, prompt number ' || i AS prompt, 'prompt ' || i AS api_prompt, 'lowres' AS negative_prompt, i * 7919 % 100000 AS seed,
      '{}'::JSON AS variations, '{}'::JSON AS params, '{}'::JSON AS manifest FROM range(${IMAGES}) t(i)`,
  images: `SELECT printf('%032x', i) AS image_id, 'p' || i AS prompt_id, '/nowhere/' || i || '.png' AS path, i * 7919 % 100000 AS seed, 512 AS width, 768 AS height,
      'synthetic' AS backend, 'synthetic' AS endpoint, 'model' AS model_name, 'hash' AS model_hash, []::VARCHAR[] AS loras, 10.0 AS gen_ms,
      CASE WHEN i % 97 = 0 THEN 'blank' ELSE 'ok' END AS status, NULL::VARCHAR AS error, NULL::JSON AS rendered,
      'data/sessions/202611' || lpad(((i % 20) + 1)::VARCHAR, 2, '0') || '_120000-s' || (i % 20) AS session_dir, 'img' || i || '.png' AS filename
    FROM range(${IMAGES}) t(i)`,
  scores: `SELECT printf('%032x', i) AS image_id, 'p' || i AS prompt_id, 'a' || a AS axis, 'v' || ((i + a) % ${VALUES}) AS value, r AS p_target, 2 * r - 1 AS margin,
      1 AS rank, r > 0.5 AS matched, CASE WHEN r > 0.5 THEN 'v' || ((i + a) % ${VALUES}) ELSE 'v0' END AS top_value, 'full' AS method, 'demo' AS model
    FROM (SELECT i, a, hash(i * 7 + a) % 1000 / 1000.0 AS r FROM range(${IMAGES}) t(i), range(${AXES}) u(a))`,
  quality: `SELECT printf('%032x', i) AS image_id, 'p' || i AS prompt_id, false AS blank, false AS uniform, false AS black, 50.0 AS blur, false AS blurred,
      'ph' AS phash, NULL::VARCHAR AS duplicate_group, NULL::DOUBLE AS aesthetic, (i % 10) / 10.0 AS match_score,
      CASE WHEN i % 10 > 7 THEN 'success' WHEN i % 10 > 3 THEN 'partial' ELSE 'failed' END AS verdict, false AS flagged FROM range(${IMAGES}) t(i)`,
  predictions: `SELECT image_id, axis, value, p_target AS p_probe, p_target AS p_zero_shot, p_target AS p_combined, top_value AS probe_value,
      NULL::VARCHAR AS label, NULL::VARCHAR AS label_source FROM scores`,
};

async function median(work) {
  const times = [];
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now();
    await work();
    times.push(performance.now() - start);
  }
  return times.sort((a, b) => a - b)[Math.floor(RUNS / 2)];
}

/** The tables as a run leaves them: Parquet files that pipeline.lock names. */
/** pipeline.lock naming the tables by `hash` (a new one makes serve copy them again). */
async function writeLock(dir, outs) {
  const entry = { fingerprint: 'f', code: 'c', memo: 'm', params: {}, resources: {}, inputs: {}, deps: { files: 0, hash: 'd' }, outs, finished_at: new Date().toISOString(), duration_s: 0 };
  await writeFile(join(dir, 'pipeline.lock'), stringify({ schema: 1, stages: { bench: entry } }));
}

async function makeProject(dir) {
  const db = await (await DuckDBInstance.create(':memory:')).connect();
  const tables = join(dir, 'data', 'tables');
  await mkdir(tables, { recursive: true });
  const outs = {};
  for (const [name, query] of Object.entries(generators)) {
    const file = join(tables, `${name}.parquet`);
    await db.run(`COPY (${query}) TO '${file}' (FORMAT parquet)`);
    await db.run(`CREATE VIEW ${name} AS SELECT * FROM read_parquet('${file}')`);
    outs[name] = { kind: 'table', path: `data/tables/${name}.parquet`, hash: `${name}-bench` };
  }
  await writeLock(dir, outs);
  return { db, outs };
}

const dir = await mkdtemp(join(tmpdir(), 'sdloop-bench-serve-'));
try {
  const { db, outs } = await makeProject(dir);
  // where a cold start goes before the first request: loading the server's modules, then
  // starting it (the in-memory DuckDB, the journal views, listening; the first copy begins)
  const loadStart = performance.now();
  const { startServer } = await import('../dist/web/server.js');
  const loaded = performance.now() - loadStart;
  const fetchJson = async (url) => {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`${url}: ${response.status} ${await response.text()}`);
    return response.json();
  };
  /** A fresh server's start and its first page: what a cold start costs (each start copies the tables anew). */
  const coldStart = async () => {
    const t0 = performance.now();
    const server = await startServer(dir, { host: '127.0.0.1', port: 0, readOnly: false });
    const t1 = performance.now();
    const first = await fetchJson(`${server.url}api/images?sort=score`);
    return { server, first, started: t1 - t0, cold: performance.now() - t1 };
  };
  // one cold start is one sample on a machine others share: the median of several
  const colds = [];
  for (let i = 0; i < COLD_RUNS - 1; i++) {
    const run = await coldStart();
    colds.push(run);
    await run.server.close();
  }
  const { server, first } = await coldStart().then((run) => (colds.push(run), run));
  const middle = (key) => colds.map((run) => run[key]).sort((a, b) => a - b)[Math.floor(colds.length / 2)];
  const started = middle('started');
  const cold = middle('cold');
  const get = (path) => fetchJson(`${server.url}${path}`);
  const bare = async (query) => (await db.runAndReadAll(query)).getRowObjectsJson();
  const pageRows = (where) => `SELECT i.image_id, p.session, p.prompt, i.seed, q.verdict, q.match_score
    FROM images i JOIN prompts p USING (prompt_id) LEFT JOIN quality q USING (image_id) ${where} ORDER BY q.match_score DESC, i.image_id LIMIT 60`;
  const filtered = `WHERE q.verdict = 'success' AND i.image_id IN (SELECT image_id FROM scores WHERE axis = 'a1' AND value IN ('v2', 'v3'))`;
  const bareCold = await median(() => bare(pageRows('')));

  console.log(`data: ${first.total.toLocaleString('en')} images x ${AXES} axes\n`);
  const rows = [
    ['loading the server modules', loaded, null],
    [`starting the server (DuckDB instance, views, listen), median of ${COLD_RUNS}`, started, null],
    [`first gallery page, cold (waits for the copy begun at start), median of ${COLD_RUNS}`, cold, bareCold],
    ['gallery page, warm', await median(() => get('api/images?sort=score')), await median(() => bare(pageRows('')))],
    ['filtered page (axis OR + verdict)', await median(() => get('api/images?sort=score&verdict=success&axis=a1&value=v2&axis=a1&value=v3')), await median(() => bare(pageRows(filtered)))],
    ['page 300 (offset 18,000)', await median(() => get('api/images?sort=score&offset=18000')), null],
    ['least-certain-first queue', await median(() => get('api/images?sort=uncertain&labelled=false')), null],
    ['image with prev/next in the filtered set', await median(() => get(`api/images/${first.items[30].image_id}?sort=score`)), null],
    ['facets', await median(() => get('api/facets')), null],
  ];
  // A run finished a stage: serve copies the tables again on its second connection, answering from the old copy meanwhile.
  await writeLock(dir, { ...outs, quality: { ...outs.quality, hash: 'quality-bench-2' } });
  const during = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    await get('api/images?sort=score');
    during.push(performance.now() - t0);
  }
  rows.push(['gallery page while the tables are copied again (max of 5)', Math.max(...during), null]);
  const width = Math.max(...rows.map(([name]) => name.length));
  console.log(`${'request'.padEnd(width)} ${'serve'.padStart(9)} ${'bare SELECT'.padStart(12)}`);
  for (const [name, ms, baseline] of rows) {
    console.log(`${name.padEnd(width)} ${`${ms.toFixed(1)} ms`.padStart(9)} ${baseline === null ? ''.padStart(12) : `${baseline.toFixed(1)} ms`.padStart(12)}`);
  }
  await server.close();
} finally {
  await rm(dir, { recursive: true, force: true });
}
