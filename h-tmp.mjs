import { createRequire } from 'node:module';
import { readFileSync, rmSync } from 'node:fs';
const { DuckDBInstance } = createRequire(import.meta.url)('@duckdb/node-api');
const inst = await DuckDBInstance.create(':memory:');
const c = await inst.connect();
const f = '/tmp/sdloop-bench-engine-a17eTK/data/tables/files.parquet';
for (let r = 0; r < 4; r++) {
  let t = performance.now();
  const reader = await c.runAndReadAll(`SELECT to_json(t)::VARCHAR AS j FROM read_parquet('${f}') t`);
  const rows = reader.getColumns()[0].map((j) => JSON.parse(j));
  const t1 = performance.now();
  const r2 = await c.runAndReadAll(`SELECT string_agg(to_json(t)::VARCHAR, chr(10)) AS j FROM read_parquet('${f}') t`);
  const rows2 = r2.getColumns()[0][0].split('\n').map((j) => JSON.parse(j));
  const t2 = performance.now();
  await c.run(`COPY (SELECT * FROM read_parquet('${f}')) TO '/tmp/x.json' (FORMAT json)`);
  const rows3 = readFileSync('/tmp/x.json', 'utf8').trimEnd().split('\n').map((j) => JSON.parse(j));
  const t3 = performance.now();
  const r4 = await c.runAndReadAll(`SELECT '[' || string_agg(to_json(t)::VARCHAR, ',') || ']' AS j FROM read_parquet('${f}') t`);
  const rows4 = JSON.parse(r4.getColumns()[0][0]);
  const t4 = performance.now();
  console.log('per-row', (t1 - t).toFixed(1), 'agg', (t2 - t1).toFixed(1), 'copy', (t3 - t2).toFixed(1), 'array', (t4 - t3).toFixed(1), rows.length, rows4.length, JSON.stringify(rows[5]) === JSON.stringify(rows4[5]));
}
