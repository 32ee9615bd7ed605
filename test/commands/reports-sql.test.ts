// Every shipped report on the fixture, whose counts are known by construction (see
// fixture.ts). Wilson bounds below were computed by hand with z = 1.96:
//   lo/hi = (p + z²/2n ∓ z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)
// 7/10 -> [0.39677, 0.89221]   4/10 -> [0.16818, 0.68733]   0/4 -> [0, 0.48990]
// 1/1  -> [0.20654, 1]         8/10 -> [0.49016, 0.94332]   3/10 -> [0.10779, 0.60322]
// Newcombe 8/10 - 3/10: 0.5, [0.5 - sqrt(0.30984² + 0.30322²), 0.5 + sqrt(0.14332² + 0.19221²)] = [0.06647, 0.73976]
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildFixture, type Fixture } from './report-fixture.js';
import { loadReports, parseReport, runReport, MissingTables, type Report } from '../../commands/report/sql.js';
import { InputError } from '../../src/errors.js';

let fixture: Fixture;
let reports: Map<string, Report>;

beforeAll(async () => {
  fixture = await buildFixture();
  reports = await loadReports(['reports']);
});
afterAll(() => fixture.ctx.close());

const run = (name: string, params: Record<string, string> = {}) => runReport(fixture.ctx.sql, reports.get(name)!, params);
const byKey = (rows: Record<string, unknown>[], ...cols: string[]) =>
  Object.fromEntries(rows.map((r) => [cols.map((c) => r[c]).join('/'), r]));

describe('variation_success', () => {
  test('counts, rates and Wilson bounds per axis and value', async () => {
    const rows = byKey(await run('variation_success'), 'axis', 'value');
    expect(Object.keys(rows).sort()).toEqual(['bg/beach', 'bg/forest', 'hair/blue', 'hair/red']);
    const expected: Record<string, [number, number, number, number]> = {
      'hair/red': [10, 7, 0.39677, 0.89221],
      'hair/blue': [10, 4, 0.16818, 0.68733],
      'bg/beach': [4, 0, 0, 0.4899],
      'bg/forest': [1, 1, 0.20654, 1],
    };
    for (const [key, [n, successes, lo, hi]] of Object.entries(expected)) {
      expect(rows[key]).toMatchObject({ n, successes });
      expect(rows[key].success_rate).toBeCloseTo(successes / n, 10);
      expect(rows[key].ci_low).toBeCloseTo(lo, 4);
      expect(rows[key].ci_high).toBeCloseTo(hi, 4);
    }
    expect(rows['hair/red'].mean_p_target).toBeCloseTo((7 * 0.8 + 3 * 0.2) / 10, 10);
  });

  test('session, since and min_n narrow it down', async () => {
    const portraits = byKey(await run('variation_success', { session: 'portraits' }), 'axis', 'value');
    expect(portraits['hair/red']).toMatchObject({ n: 6, successes: 5 });
    expect(portraits['bg/beach']).toBeUndefined();
    const late = await run('variation_success', { since: '2026-11-06' });
    expect(late.map((r) => r.axis)).toEqual(['bg', 'bg']);
    const big = await run('variation_success', { min_n: '5' });
    expect(big.map((r) => r.value).sort()).toEqual(['blue', 'red']);
  });

  test('a bad parameter value is bad input naming the parameter', async () => {
    await expect(run('variation_success', { since: 'last week' })).rejects.toThrow(/since|timestamp/);
    await expect(run('variation_success', { min_n: '2.5' })).rejects.toBeInstanceOf(InputError);
  });
});

test('failing_variations ranks by the upper end of the success interval', async () => {
  const rows = await run('failing_variations');
  expect(rows.map((r) => `${r.axis}/${r.value}`)).toEqual(['bg/beach', 'hair/blue', 'hair/red', 'bg/forest']);
  expect(rows[0]).toMatchObject({ n: 4, failures: 4, failure_rate: 1 });
  expect(rows[0].ci_high).toBeCloseTo(0.4899, 4);
  expect(await run('failing_variations', { limit: '2' })).toHaveLength(2);
});

test('sessions: planned, made, failed, blank, missing, average match, flagged, complete', async () => {
  const rows = await run('sessions');
  expect(rows.map((r) => r.session)).toEqual(['portraits', 'headshots', 'landscapes']);
  const s = byKey(rows, 'session');
  expect(s.portraits).toMatchObject({ started: '2026-11-01 12:00:00', planned: 10, made: 10, failed: 0, missing: 0, flagged: 2, complete: true });
  expect(s.portraits.avg_match).toBeCloseTo(0.78, 10);
  expect(s.headshots).toMatchObject({ planned: 10, made: 10, complete: false });
  expect(s.headshots.avg_match).toBeCloseTo(0.48, 10);
  // made counts every image there is, the blank one too (blank says how many of them are)
  expect(s.landscapes).toMatchObject({ planned: 7, made: 5, failed: 1, blank: 1, missing: 1, flagged: 1, complete: false, verdict: 'review', origin: 'generated' });
  expect(s.landscapes.avg_match).toBeCloseTo(0.42, 10);
  expect((await run('sessions', { since: '2026-11-05' })).map((r) => r.session)).toEqual(['headshots', 'landscapes']);
  expect(byKey(await run('sessions', { complete_at: '0.4' }), 'session').headshots.complete).toBe(true);
});

test('quality: blank, blurred and duplicate counts per session and model', async () => {
  const q = byKey(await run('quality'), 'session', 'model_name');
  expect(q['portraits/sd15']).toMatchObject({ images: 10, blank: 0, blurred: 2, duplicates: 0, duplicate_groups: 0, flagged: 2 });
  expect(q['headshots/sd15']).toMatchObject({ images: 10, blurred: 0, duplicates: 1, duplicate_groups: 1 });
  expect(q['landscapes/sdxl']).toMatchObject({ images: 5, blank: 1, flagged: 1 });
});

describe('prompt_ab', () => {
  test('two templates: difference with its Newcombe interval', async () => {
    const [row, ...rest] = await run('prompt_ab');
    expect(rest).toHaveLength(0);
    expect(row).toMatchObject({ axis: 'hair', arm_a: 'prompts/a.prompt.yaml', arm_b: 'prompts/b.prompt.yaml', n_a: 10, successes_a: 8, n_b: 10, successes_b: 3, verdict: 'a better' });
    expect(row.difference).toBeCloseTo(0.5, 10);
    expect(row.diff_ci_low).toBeCloseTo(0.06647, 4);
    expect(row.diff_ci_high).toBeCloseTo(0.73976, 4);
  });

  test('two phrasings of one value, and arms swapped', async () => {
    const [row] = await run('prompt_ab', { by: 'phrasing', a: 'crimson hair', b: 'red hair' });
    expect(row).toMatchObject({ n_a: 4, successes_a: 2, n_b: 6, successes_b: 5, verdict: 'no clear difference' });
    expect(row.difference).toBeCloseTo(0.5 - 5 / 6, 10);
    const [swapped] = await run('prompt_ab', { a: 'prompts/b%', b: 'prompts/a%' });
    expect(swapped.difference).toBeCloseTo(-0.5, 10);
    expect(swapped.verdict).toBe('b better');
  });

  test('an unknown `by` fails with the choices', async () => {
    await expect(run('prompt_ab', { by: 'colour' })).rejects.toThrow(/source, session, style, theme or phrasing/);
  });
});

test('models: adherence by model hash and LoRA', async () => {
  const m = byKey(await run('models'), 'model_hash', 'lora');
  expect(m['aaaa1111/(none)']).toMatchObject({ images: 10, n: 10, successes: 8 });
  expect(m['aaaa1111/(none)'].ci_low).toBeCloseTo(0.49016, 4);
  expect(m['aaaa1111/(none)'].ci_high).toBeCloseTo(0.94332, 4);
  expect(m['aaaa1111/hair_v1']).toMatchObject({ successes: 3 });
  expect(m['aaaa1111/hair_v1'].ci_low).toBeCloseTo(0.10779, 4);
  expect(m['aaaa1111/hair_v1'].ci_high).toBeCloseTo(0.60322, 4);
  expect(m['bbbb2222/(none)']).toMatchObject({ n: 5, successes: 1 });
});

test('loop_history: rounds, change, verdicts and best so far', async () => {
  const rows = await run('loop_history');
  expect(rows.map((r) => r.verdict)).toEqual(['promote', 'reject', 'promote']);
  expect(rows.map((r) => r.minutes)).toEqual([30, 45, 60]);
  expect(rows[1].change).toBeCloseTo(-0.05, 10);
  expect(rows.map((r) => r.best_so_far)).toEqual([0.55, 0.55, 0.62]);
  expect(rows.map((r) => r.round)).toEqual([1, 2, 3]);
  expect(rows[2]).toMatchObject({ promoted: 'hair_v1, hair_v3', reason: 'won', target: null });
  expect(rows[1].target).toBe('hair=blue');
});

test('a report whose tables are missing names the stage to run', async () => {
  const bare = await buildFixture({ withLoop: false, skip: ['sessions'] });
  try {
    const loop = runReport(bare.ctx.sql, reports.get('loop_history')!, {});
    await expect(loop).rejects.toBeInstanceOf(MissingTables);
    await expect(loop).rejects.toThrow(/needs table loop_rounds.*`pipeline loop`/);
    await expect(runReport(bare.ctx.sql, reports.get('sessions')!, {})).rejects.toThrow(/needs table sessions.*`pipeline run sessions`/);
  } finally {
    bare.ctx.close();
  }
});

describe('report headers', () => {
  test('summary, needs and params are read from the leading comments', () => {
    const r = parseReport('x/demo.sql', '-- What it answers.\n-- @needs scores, images\n-- @sort n, highest first\n-- @param n int 3 how many\n-- @param tag string \'\' a tag\nSELECT $n AS n, $tag AS t;\n');
    expect(r).toMatchObject({ name: 'demo', summary: 'What it answers.', needs: ['scores', 'images'], sort: 'n, highest first' });
    expect(r.params.map((p) => [p.name, p.type, p.default])).toEqual([['n', 'int', '3'], ['tag', 'string', '']]);
    expect(r.sql).toBe('SELECT $n AS n, $tag AS t');
  });

  test('undeclared, unused and badly typed parameters are caught at load, with the line', () => {
    expect(() => parseReport('a.sql', '-- s\nSELECT $x')).toThrow(/\$x is used but not declared/);
    expect(() => parseReport('a.sql', '-- s\n-- @param x int 1 d\nSELECT 1')).toThrow(/never uses \$x/);
    expect(() => parseReport('a.sql', "-- s\n-- @param x int 1 d\nSELECT '$x' -- $x\n, 1")).toThrow(/never uses/);
    const bad = (() => {
      try {
        parseReport('a.sql', '-- s\n-- @param x float 1 d\nSELECT $x');
      } catch (error) {
        return error as InputError;
      }
    })();
    expect(bad).toBeInstanceOf(InputError);
    expect(bad!.format()).toMatch(/^a\.sql:2: @param: expected type to be one of string, int, number, timestamp, boolean/);
    expect(() => parseReport('a.sql', 'SELECT 1')).toThrow(/summary/);
  });
});

test('quotes in comments and dashes in strings do not hide or invent parameter uses', () => {
  const r = parseReport('q.sql', "-- s\n-- @param a string x d\nSELECT 1 -- the prompt's text\n, $a AS a, '--' AS dashes, 'it''s $b' AS s");
  expect(r.params.map((p) => p.name)).toEqual(['a']);
});

test('Wilson terms stay in floating point at large n (n² overflows 32-bit integers)', async () => {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const instance = await DuckDBInstance.create(':memory:');
  const db = await instance.connect();
  try {
    await db.run(`CREATE TABLE prompts AS SELECT 'p' || i AS prompt_id, 's' AS session FROM range(200000) t(i)`);
    await db.run(`CREATE TABLE images AS SELECT 'img' || i AS image_id, 'p' || i AS prompt_id, '' AS session_dir FROM range(200000) t(i)`);
    await db.run(`CREATE TABLE variation_values AS SELECT 'hair' AS axis, 'red' AS key, 'red hair' AS text, false AS inline`);
    await db.run(`CREATE TABLE scores AS SELECT 'img' || i AS image_id, 'p' || i AS prompt_id, 'hair' AS axis, 'red' AS value, i % 2 = 0 AS matched, 0.5 AS p_target FROM range(200000) t(i)`);
    const sql = async <T,>(q: string, p?: Record<string, unknown>) => (await db.runAndReadAll(q, p as never)).getRowObjectsJson() as T[];
    const [row] = await runReport(sql, reports.get('variation_success')!, {});
    // p = 0.5, n = 200000: half-width = 1.96 * sqrt(0.25 / 200000) / (1 + 1.96² / 200000) ≈ 0.0021913
    expect(row).toMatchObject({ n: 200000, successes: 100000 });
    expect(row.ci_low).toBeCloseTo(0.5 - 0.0021913, 6);
    expect(row.ci_high).toBeCloseTo(0.5 + 0.0021913, 6);
  } finally {
    db.closeSync();
    instance.closeSync();
  }
});
