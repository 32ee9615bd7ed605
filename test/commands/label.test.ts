import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import label from '../../commands/label.js';
import { parseLabelCsv, splitCsvLine } from '../../commands/label-csv.js';
import { adoptStateLabels, humanLabelsOf, readLabelRows, labelKey } from '../../stages/classify/human-labels.js';
import { InputError, InputErrors } from '../../src/errors.js';
import { invokeCommand, type CommandContext } from '../../src/command.js';
import type { StageContext } from '../../src/stage.js';

/** A CommandContext over a real in-memory DuckDB, holding `images` and `scores` tables like the state's views. */
async function context() {
  const db = await DuckDBInstance.create(':memory:');
  const connection = await db.connect();
  const sql = async (query: string, params?: Record<string, unknown>) =>
    (await connection.runAndReadAll(query, params as never)).getRowObjectsJson() as Record<string, unknown>[];
  await sql(`create table images as select * from (values ('img1'), ('img2'), ('img3')) t(image_id)`);
  await sql(`create table scores as select * from (values ('img1', 'Hair'), ('img1', 'Colour')) t(image_id, axis)`);
  await sql(`create table axes as select * from (values
    ('a1', 'Hair', ['Bob', 'Long'], ['bob cut, chin-length', 'long hair']),
    ('a2', 'Colour', ['Red', 'Blue'], ['red', 'blue'])) t(alternatives, axis, keys, texts)`);
  const out: string[] = [];
  const projectDir = mkdtempSync(join(tmpdir(), 'sdloop-label-project-'));
  const dataDir = join(projectDir, 'data');
  const ctx = {
    projectDir, dataDir, params: {}, sql,
    tables: async () => ({}), run: async () => ({ ok: true, exitCode: 0, durationMs: 0, stages: [] }),
    stdout: (t: string) => out.push(t), stderr: (t: string) => out.push(t),
  } as unknown as CommandContext;
  return { ctx, out, dataDir, sql: sql as unknown as StageContext['sql'] };
}

const tmp = () => mkdtempSync(join(tmpdir(), 'sdloop-label-'));

describe('pipeline label', () => {
  it('records axis=value labels and rejects in the journal labels, which classify reads back', async () => {
    const { ctx, out, dataDir } = await context();
    expect(await readLabelRows(dataDir)).toEqual([]);
    expect(await invokeCommand(label, ['img1', 'Hair=Bob', 'Colour=Red'], ctx)).toBe(0);
    expect(await invokeCommand(label, ['img2', '--reject'], ctx)).toBe(0);
    const rows = await readLabelRows(dataDir);
    expect(rows.map(({ created_at, ...r }) => r)).toEqual([
      { image_id: 'img1', axis: 'Colour', value: 'Red', reject: false },
      { image_id: 'img1', axis: 'Hair', value: 'Bob', reject: false },
      { image_id: 'img2', axis: null, value: null, reject: true },
    ]);
    const human = humanLabelsOf(rows);
    expect(human.values.get(labelKey('img1', 'Hair'))).toBe('Bob');
    expect([...human.rejected]).toEqual(['img2']);
    expect(out.join('')).toContain('recorded 2 labels');
  });

  it('accepts the ids of benchmark pictures (benchmark_images), so the benchmark can measure its scorer against people', async () => {
    const { ctx, dataDir, sql } = await context();
    await expect(invokeCommand(label, ['bench1', 'Hair=Long'], ctx)).rejects.toThrow(/generated, imported or a benchmark picture/);
    await sql("create table benchmark_images as select * from (values ('bench1', 'Hair', 'Long')) t(image_id, axis, value)");
    expect(await invokeCommand(label, ['bench1', 'Hair=Long'], ctx)).toBe(0);
    expect(humanLabelsOf(await readLabelRows(dataDir)).values.get(labelKey('bench1', 'Hair'))).toBe('Long');
  });

  it('reads the bulk CSV form, later lines winning for the same image and axis', async () => {
    const { ctx, dataDir } = await context();
    const file = join(tmp(), 'labels.csv');
    writeFileSync(file, 'image_id,axis,value,reject\nimg1,Hair,"bob cut, chin-length",\nimg3,,,true\nimg1,Hair,Long,false\n');
    expect(await invokeCommand(label, ['--csv', file], ctx)).toBe(0);
    const rows = (await readLabelRows(dataDir)).map(({ created_at, ...r }) => r);
    expect(rows).toEqual([
      { image_id: 'img1', axis: 'Hair', value: 'Long', reject: false },
      { image_id: 'img3', axis: null, value: null, reject: true },
    ]);
  });

  it('rejects unknown images and axes, naming the CSV line and column, and writes nothing', async () => {
    const { ctx, dataDir } = await context();
    const file = join(tmp(), 'labels.csv');
    writeFileSync(file, 'image_id,axis,value\nimg1,Hair,Bob\nnope,Hair,Bob\nimg1,Shoes,Red\nimg1,Hair,Bobb\n');
    const error = await invokeCommand(label, ['--csv', file], ctx).catch((e) => e);
    expect(error).toBeInstanceOf(InputErrors);
    expect((error as InputErrors).errors.map((e) => e.format())).toEqual([
      `${file}:3: image_id: expected the id of an image (generated, imported or a benchmark picture), got 'nope'`,
      `${file}:4: axis: expected a scored axis (Colour, Hair), got 'Shoes'`,
      `${file}:5: value: expected a value of Hair (Bob, Long) or its text, got 'Bobb'`,
    ]);
    expect(await readLabelRows(dataDir)).toEqual([]);
  });

  it('moves labels an older version kept in the state table into the journal, once', async () => {
    const { sql, dataDir } = await context();
    await sql(`create table labels (image_id varchar not null, axis varchar, value varchar, reject boolean not null, created_at varchar not null)`);
    await sql(`insert into labels values ('img1', 'Hair', 'Bob', false, '2026-01-01T00:00:00.000Z'), ('img2', null, null, true, '2026-01-01T00:00:00.000Z')`);
    const before = await readLabelRows(dataDir, sql);
    expect(before).toHaveLength(2);
    expect(await adoptStateLabels(sql, dataDir)).toBe(2);
    expect(await adoptStateLabels(sql, dataDir)).toBe(0);
    expect(await readLabelRows(dataDir, sql)).toEqual(before);
    expect((await readLabelRows(dataDir)).map((r) => [r.image_id, r.axis, r.value, r.reject])).toEqual([
      ['img1', 'Hair', 'Bob', false],
      ['img2', null, null, true],
    ]);
  });

  it('says what it expected for bad command lines', async () => {
    const { ctx } = await context();
    await expect(invokeCommand(label, [], ctx)).rejects.toThrow(/expected an image id/);
    await expect(invokeCommand(label, ['img1'], ctx)).rejects.toThrow(/expected <axis>=<value> or --reject/);
    await expect(invokeCommand(label, ['img1', 'Hair'], ctx)).rejects.toThrow(/expected <axis>=<value>.*got 'Hair'/);
    await expect(invokeCommand(label, ['img1', 'Hair=Bob', '--reject'], ctx)).rejects.toThrow(InputError);
    await expect(invokeCommand(label, ['--bogus'], ctx)).rejects.toThrow(InputError);
    await expect(invokeCommand(label, ['--csv', '/does/not/exist.csv'], ctx)).rejects.toThrow(/expected a readable CSV file/);
  });
});

describe('label CSV parsing', () => {
  it('splits quoted fields with commas and doubled quotes', () => {
    expect(splitCsvLine('a,"b, c","say ""hi""",').map((f) => f.text)).toEqual(['a', 'b, c', 'say "hi"', '']);
    expect(splitCsvLine('a,"b",c').map((f) => f.col)).toEqual([1, 3, 7]);
  });

  it('reports every bad line with line, column and field', () => {
    const text = 'image_id,axis,value,reject\n,Hair,Bob,\nimg1,Hair,,\nimg2,Hair,Bob,maybe\n"img3"x,Hair,Bob,\n';
    const error = (() => {
      try {
        parseLabelCsv(text, 'l.csv');
      } catch (e) {
        return e as InputErrors;
      }
    })()!;
    expect(error.errors.map((e) => e.format())).toEqual([
      'l.csv:2:1: image_id: expected an image id',
      'l.csv:3:11: value: expected a value for the axis (or reject=true)',
      "l.csv:4:15: reject: expected reject to be true or false (or empty), got 'maybe'",
      'l.csv:5: expected a CSV line: unexpected text after a closing quote at column 7',
    ]);
    expect(() => parseLabelCsv('id,axis\nx,y\n', 'h.csv')).toThrow(/expected a header line naming the columns image_id,axis,value,reject/);
  });
});
