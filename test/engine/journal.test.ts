import { appendFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { journalViews, openJournal } from '../../src/journal.js';

const noteRow = z.object({ id: z.string().min(1), text: z.string().nullable(), n: z.number().int() });

describe('journals', () => {
  it('append whole lines, read them back in order and leave a half-written line for later', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'sdloop-journal-'));
    const journal = openJournal(dataDir, 'notes', noteRow);
    expect(await journal.read()).toEqual([]);
    await journal.append([{ id: 'a', text: 'one', n: 1 }, { id: 'b', text: null, n: 2 }]);
    appendFileSync(journal.file, '{"id":"c","te');
    expect((await journal.read()).map((r) => r.id)).toEqual(['a', 'b']);
    await expect(journal.append([{ id: '', text: null, n: 1 }])).rejects.toThrow();
  });

  it('are views by name with the columns of their zod schema, a half-written line left out', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'sdloop-journal-'));
    const journal = openJournal(dataDir, 'notes', noteRow);
    expect(await journalViews(dataDir)).toBe('');
    await journal.append([{ id: 'a', text: 'one', n: 1 }, { id: 'b', text: null, n: 2 }]);
    appendFileSync(journal.file, '{"id":"c","te');
    const connection = await (await DuckDBInstance.create(':memory:')).connect();
    await connection.run(await journalViews(dataDir));
    const reader = await connection.runAndReadAll('select id, text, n from notes order by id');
    expect(reader.getRowObjectsJson()).toEqual([{ id: 'a', text: 'one', n: '1' }, { id: 'b', text: null, n: '2' }]);
    expect(reader.columnTypes().map(String)).toEqual(['VARCHAR', 'VARCHAR', 'BIGINT']);
  });

  it('follow a schema that gained a column: the view reads it, older lines have null there', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'sdloop-journal-'));
    await openJournal(dataDir, 'notes', noteRow).append([{ id: 'a', text: 'one', n: 1 }]);
    await openJournal(dataDir, 'notes', noteRow.extend({ mood: z.string().nullable() })).append([{ id: 'b', text: null, n: 2, mood: 'glad' }]);
    const connection = await (await DuckDBInstance.create(':memory:')).connect();
    await connection.run(await journalViews(dataDir));
    expect((await connection.runAndReadAll('select id, mood from notes order by id')).getRowObjectsJson()).toEqual([{ id: 'a', mood: null }, { id: 'b', mood: 'glad' }]);
  });
});
