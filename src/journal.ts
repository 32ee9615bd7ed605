// Append-only JSON-lines journals under data/journals/: records people add (labels, notes)
// while a run may hold the state database. DuckDB admits one writer per file, so these
// never go through it: a writer appends whole lines with one write, readers never wait,
// and every query sees them as a view by the journal's name.
import { appendFile, mkdir, readFile, readdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { shownPath } from './errors.js';
import type { z } from 'zod';
import { columnsOf } from './table-schema.js';
import { sqlString } from './tables.js';
import { writeFileAtomic } from './atomic.js';
import { journalColumnsFile } from '../schemas/journal.js';

export interface Journal<T> {
  file: string;
  /** Validate and append the rows as one write, so a batch lands whole. */
  append(rows: T[]): Promise<void>;
  /** Every row in the order written; a line still being written (no newline yet) is left for later. */
  read(): Promise<T[]>;
}

export const journalsDir = (dataDir: string) => join(dataDir, 'journals');

export function openJournal<S extends z.ZodObject<z.ZodRawShape>>(dataDir: string, name: string, schema: S): Journal<z.infer<S>> {
  const dir = journalsDir(dataDir);
  const file = join(dir, `${name}.jsonl`);
  const sidecar = join(dir, `${name}.columns.json`);
  return {
    file,
    async append(rows) {
      const lines = rows.map((row) => `${JSON.stringify(schema.parse(row))}\n`).join('');
      await mkdir(dir, { recursive: true });
      await appendFile(file, lines, { flag: 'a' });
      // rewritten when the schema gained a column, so the SQL view reads it too
      const columns = JSON.stringify({ schema: 1, columns: columnsOf(schema) });
      if ((await readFile(sidecar, 'utf8').catch(() => '')) !== columns) await writeFileAtomic(sidecar, columns);
    },
    async read() {
      const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return '';
        throw error;
      });
      const complete = text.slice(0, text.lastIndexOf('\n') + 1);
      return complete.split('\n').flatMap((line, i) => {
        if (!line.trim()) return [];
        const parsed = schema.safeParse(JSON.parse(line));
        if (!parsed.success) throw new Error(`${shownPath(dirname(dataDir), file)}:${i + 1}: not a ${name} record: ${parsed.error.issues[0]?.message}`);
        return [parsed.data];
      });
    },
  };
}

/**
 * SQL making each journal under `dataDir` a temporary view by its name. A line caught half
 * written reads as nulls and is dropped by its first column, which journals keep non-null.
 */
export async function journalViews(dataDir: string): Promise<string> {
  const dir = journalsDir(dataDir);
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.columns.json')).map((n) => n.slice(0, -'.columns.json'.length));
  const views: string[] = [];
  for (const name of names.sort()) {
    const file = join(dir, `${name}.jsonl`);
    if (!existsSync(file)) continue;
    const { columns } = journalColumnsFile.parse(JSON.parse(await readFile(join(dir, `${name}.columns.json`), 'utf8')));
    const spec = columns.map(([n, t]) => `${sqlString(n)}: ${sqlString(t)}`).join(', ');
    views.push(
      `CREATE OR REPLACE TEMP VIEW "${name}" AS SELECT * FROM read_json(${sqlString(file)}, format = 'newline_delimited', columns = {${spec}}, ignore_errors = true) WHERE "${columns[0]![0]}" IS NOT NULL;`,
    );
  }
  return views.join('\n');
}
