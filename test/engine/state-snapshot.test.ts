// The copy of the state's records readers query: runs and stage_runs by month, so a stage
// commit rewrites one month; the other record tables whole; copies of what is gone removed.
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { State } from '../../src/state.js';
import { exportRunMonths, exportSnapshot, snapshotDir, snapshotTables } from '../../src/state-snapshot.js';

let dataDir: string;
let state: State;
beforeEach(async () => {
  dataDir = join(mkdtempSync(join(tmpdir(), 'sdloop-snapshot-')), 'data');
  state = await State.open(join(dataDir, 'state.duckdb'));
  await state.run(`INSERT INTO runs VALUES ('2026-11-30T23:00:00.000Z-aa', now(), now(), 'ok', 'run', 1, 'h'), ('2026-12-01T01:00:00.000Z-bb', now(), now(), 'ok', 'run', 1, 'h')`);
  await state.run(`INSERT INTO stage_runs VALUES ('2026-12-01T01:00:00.000Z-bb', 'files', now(), now(), 'ok', 'fp', NULL, NULL, NULL, NULL, 1, NULL)`);
  await state.run(`CREATE TABLE loop_rounds AS SELECT 1 AS round`);
});
afterEach(() => state.close());

const months = (table: string) => readdirSync(join(snapshotDir(dataDir), table)).sort();

it('copies every record table, the run tables by month, and no cache', async () => {
  await exportSnapshot(state, dataDir);
  expect(snapshotTables(dataDir).map(([name]) => name)).toEqual(['loop_rounds', 'runs', 'stage_runs', 'table_changes']);
  expect(months('runs')).toEqual(['2026-11.parquet', '2026-12.parquet']);
  expect(months('stage_runs')).toEqual(['2026-11.parquet', '2026-12.parquet']);
  expect(months('table_changes')).toEqual(['2026-11.parquet', '2026-12.parquet']);
  const [, runs] = snapshotTables(dataDir).find(([name]) => name === 'runs')!;
  expect(await state.query(`SELECT count(*)::INTEGER AS n FROM read_parquet('${runs}')`)).toEqual([{ n: 2 }]);
});

it('a stage commit rewrites only the month given', async () => {
  await exportRunMonths(state, dataDir, ['2026-12']);
  expect(months('runs')).toEqual(['2026-12.parquet']);
  expect(await state.query(`SELECT run_id FROM read_parquet('${join(snapshotDir(dataDir), 'runs', '2026-12.parquet')}')`)).toEqual([{ run_id: '2026-12-01T01:00:00.000Z-bb' }]);
});

it('drops the copies of records and tables that are gone', async () => {
  await exportSnapshot(state, dataDir);
  await state.run(`DELETE FROM runs WHERE run_id LIKE '2026-11%'`);
  await state.run('DROP TABLE loop_rounds');
  await exportSnapshot(state, dataDir);
  expect(months('runs')).toEqual(['2026-12.parquet']);
  expect(existsSync(join(snapshotDir(dataDir), 'loop_rounds.parquet'))).toBe(false);
});
