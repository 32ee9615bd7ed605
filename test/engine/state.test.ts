// The state database upgrades itself: caches whose shape changed are dropped and
// rebuilt, records (runs, the memo) are kept.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { DuckDBInstance } from '@duckdb/node-api';
import { State } from '../../src/state.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sdloop-state-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const objectHash = 'ab'.padEnd(32, '0');
const damagedHash = 'cd'.padEnd(32, '0');

it('upgrades a version 2 state: caches and the old dep_files table go, runs and memo stay, memo rows gain an empty objects cell, stored objects keep their stats', async () => {
  const file = join(dir, 'state.duckdb');
  const old = await DuckDBInstance.create(file);
  const c = await old.connect();
  await c.run(`
    CREATE TABLE meta (key VARCHAR, value VARCHAR);
    INSERT INTO meta VALUES ('state_version', '2');
    CREATE TABLE runs (run_id VARCHAR, started_at TIMESTAMP, finished_at TIMESTAMP, status VARCHAR, argv VARCHAR, pid INTEGER, host VARCHAR);
    INSERT INTO runs VALUES ('r1', now(), now(), 'ok', 'run', 1, 'h');
    CREATE TABLE memo (stage VARCHAR, fp VARCHAR, item VARCHAR, item_key VARCHAR, part VARCHAR, out_hash VARCHAR, status VARCHAR, error VARCHAR, run_id VARCHAR);
    INSERT INTO memo VALUES ('upper', 'fp', 'i', 'k', 'p', 'o', 'ok', NULL, 'r1');
    CREATE TABLE stat_cache (path VARCHAR, size BIGINT, mtime_ms VARCHAR, ino BIGINT, hash VARCHAR);
    INSERT INTO stat_cache VALUES ('/x', 1, '1', 1, 'h');
    INSERT INTO stat_cache VALUES ('/p/data/objects/ab/${objectHash}.png', 7, '12.5', 3, '${objectHash}');
    INSERT INTO stat_cache VALUES ('/p/data/objects/cd/${damagedHash}.png', 7, '12.5', 4, 'not-its-name');
    CREATE TABLE dep_files (stage VARCHAR, path VARCHAR, hash VARCHAR, dynamic BOOLEAN);
  `);
  c.closeSync();
  old.closeSync();

  const state = await State.open(file);
  const tables = (await state.query<{ name: string }>('SELECT table_name AS name FROM information_schema.tables ORDER BY 1')).map((t) => t.name);
  expect(tables).toEqual(['glob_cache', 'lock_entries', 'memo', 'meta', 'object_stats', 'runs', 'stage_deps', 'stage_runs', 'stat_cache', 'table_changes']);
  expect(await state.query('SELECT value FROM meta')).toEqual([{ value: '5' }]);
  // Only an object whose recorded hash was its name carries over, keyed under the objects folder.
  expect(await state.query('SELECT * FROM object_stats')).toEqual([{ path: `ab/${objectHash}.png`, size: 7, mtime_ms: '12.5', ino: 3 }]);
  expect(await state.query('SELECT count(*)::INTEGER AS n FROM stat_cache')).toEqual([{ n: 0 }]);
  expect(await state.query('SELECT run_id FROM runs')).toEqual([{ run_id: 'r1' }]);
  expect(await state.query('SELECT item, objects FROM memo')).toEqual([{ item: 'i', objects: null }]);
  await state.close();
});
