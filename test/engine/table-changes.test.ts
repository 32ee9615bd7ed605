// What a commit changed in a table, counted on real Parquet files in DuckDB: rows added,
// removed and changed in place on the key columns (run facts aside), or on whole rows
// for a table with no key; and every key a stage declares names columns of its schema.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { writeParquet } from '../../src/tables.js';
import { columnsOf } from '../../src/table-schema.js';
import { tableChange } from '../../src/table-changes.js';
import type { OutputDecl, StageModule } from '../../src/stage.js';
import benchmark from '../../stages/benchmark/index.js';
import catalog from '../../stages/catalog/index.js';
import classify from '../../stages/classify/index.js';
import dataset from '../../stages/dataset/index.js';
import generate from '../../stages/generate/index.js';
import ingest from '../../stages/ingest/index.js';
import resolve from '../../stages/resolve/index.js';
import score from '../../stages/score/index.js';
import select from '../../stages/select/index.js';
import sessions from '../../stages/sessions/index.js';
import train from '../../stages/train/index.js';
import { scratchState } from './scratch-state.js';

const scratch = scratchState('sdloop-table-changes-');

const schema = z.object({ id: z.string(), axis: z.string(), score: z.number(), ms: z.number(), tags: z.array(z.string()) });
type TableDecl = Extract<OutputDecl, { kind: 'table' }>;

async function version(name: string, rows: z.infer<typeof schema>[]): Promise<string> {
  const path = join(scratch.dir, `${name}.parquet`);
  await writeParquet(scratch.state, path, columnsOf(schema), rows);
  return path;
}

describe('tableChange', () => {
  it('counts added, removed and changed rows on the key, ignoring run facts', async () => {
    const before = await version('before', [
      { id: 'a', axis: 'x', score: 0.5, ms: 10, tags: ['t'] },
      { id: 'a', axis: 'y', score: 0.1, ms: 10, tags: [] },
      { id: 'b', axis: 'x', score: 0.9, ms: 10, tags: [] },
    ]);
    const after = await version('after', [
      { id: 'a', axis: 'x', score: 0.5, ms: 99, tags: ['t'] }, // only a run fact differs: unchanged
      { id: 'a', axis: 'y', score: 0.2, ms: 10, tags: [] }, // changed
      { id: 'c', axis: 'x', score: 0.3, ms: 10, tags: [] }, // added; b removed
      { id: 'c', axis: 'y', score: 0.4, ms: 10, tags: [] }, // added
    ]);
    const keyed: TableDecl = { kind: 'table', schema, runFacts: ['ms'], key: ['id', 'axis'] };
    expect(await tableChange(scratch.state, 't', keyed, after, before)).toEqual({ table_name: 't', rows: 4, added: 2, removed: 1, changed: 1, keyed: true });
    // No key: a row changed in place is one removed and one added.
    const whole: TableDecl = { kind: 'table', schema, runFacts: ['ms'] };
    expect(await tableChange(scratch.state, 't', whole, after, before)).toEqual({ table_name: 't', rows: 4, added: 3, removed: 2, changed: 0, keyed: false });
    // A first version: every row is new.
    expect(await tableChange(scratch.state, 't', keyed, after, undefined)).toEqual({ table_name: 't', rows: 4, added: 4, removed: 0, changed: 0, keyed: true });
  });
});

describe('declared keys', () => {
  it('every table output key and run fact names columns of its schema', () => {
    const stages: Record<string, StageModule> = { benchmark, catalog, classify, dataset, generate, ingest, resolve, score, select, sessions, train };
    const checked: string[] = [];
    for (const [name, stage] of Object.entries(stages)) {
      for (const [output, decl] of Object.entries(stage.outputs as Record<string, OutputDecl>)) {
        if (decl.kind !== 'table') continue;
        const columns = Object.keys(decl.schema.shape);
        for (const column of [...(decl.key ?? []), ...(decl.runFacts ?? [])]) expect(columns, `${name}.${output}`).toContain(column);
        if (decl.key) checked.push(output);
      }
    }
    expect(checked).toEqual(expect.arrayContaining(['images', 'prompts', 'scores', 'quality', 'sessions']));
  });
});
