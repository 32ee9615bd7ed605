// A small project whose numbers are known by hand: Parquet tables typed from the real
// row schemas, real PNGs in the store and in session folders, and a CommandContext
// backed by an in-memory DuckDB with a view per table, as the engine provides.
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { DuckDBInstance } from '@duckdb/node-api';
import type { z } from 'zod';
import * as tables from '../../schemas/tables.js';
import { columnsOf } from '../../src/table-schema.js';
import type { CommandContext } from '../../src/command.js';
import type { Row } from '../../src/stage.js';
import { judgeSessions } from '../../stages/sessions/index.js';
import { variationValues } from '../../stages/catalog/values.js';

interface Planned {
  session: string;
  dir: string;
  source: string;
  model: [name: string, hash: string];
  loras: string[];
  axis: string;
  value: string;
  text: string;
  matched: boolean;
  status?: 'ok' | 'failed' | 'blank' | 'missing';
  blurred?: boolean;
  duplicate?: string;
}

const portraits = { session: 'portraits', dir: 'data/sessions/20261101_120000-portraits', source: 'prompts/a.prompt.yaml', model: ['sd15', 'aaaa1111'] as [string, string], loras: [] };
const headshots = { session: 'headshots', dir: 'data/sessions/20261105_090000-headshots', source: 'prompts/b.prompt.yaml', model: ['sd15', 'aaaa1111'] as [string, string], loras: ['hair_v1'] };
const landscapes = { session: 'landscapes', dir: 'data/sessions/20261110_080000-landscapes', source: 'prompts/c.prompt.yaml', model: ['sdxl', 'bbbb2222'] as [string, string], loras: [] };

function repeat(n: number, matchedCount: number, base: Omit<Planned, 'matched'>): Planned[] {
  return Array.from({ length: n }, (_, i) => ({ ...base, matched: i < matchedCount }));
}

/**
 * hair: red 7/10, blue 4/10. By source: a 8/10, b 3/10. bg: beach 0/4, forest 1/1.
 * portraits: 10 ok, 2 blurred; headshots: 10 ok, 2 duplicates; landscapes: 7 planned,
 * 4 ok, 1 blank, 1 failed, 1 never generated.
 */
export const plan: Planned[] = [
  ...repeat(6, 5, { ...portraits, axis: 'hair', value: 'red', text: 'red hair', blurred: false }),
  ...repeat(4, 3, { ...portraits, axis: 'hair', value: 'blue', text: 'blue hair' }),
  ...repeat(4, 2, { ...headshots, axis: 'hair', value: 'red', text: 'crimson hair' }),
  ...repeat(6, 1, { ...headshots, axis: 'hair', value: 'blue', text: 'blue hair' }),
  { ...landscapes, axis: 'bg', value: 'beach', text: 'a beach', matched: false, status: 'blank' },
  ...repeat(3, 0, { ...landscapes, axis: 'bg', value: 'beach', text: 'a beach' }),
  { ...landscapes, axis: 'bg', value: 'forest', text: 'a forest', matched: true },
  { ...landscapes, axis: 'bg', value: 'beach', text: 'a beach', matched: false, status: 'failed' },
  { ...landscapes, axis: 'bg', value: 'forest', text: 'a forest', matched: false, status: 'missing' },
];
plan[0].blurred = true;
plan[1].blurred = true;
plan[10].duplicate = 'dup1';
plan[11].duplicate = 'dup1';

/** What A1111 answers when the GPU runs out of memory, as generate records it. */
export const failedError = 'HTTP 500 OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB (after 4 attempts)';

const alternatives: Record<string, string[]> = { hair: ['red', 'blue'], bg: ['beach', 'forest'] };

export const loopRounds = [
  { round: 1, started_at: '2026-11-01T12:00:00Z', finished_at: '2026-11-01T12:30:00Z', target: null, lora: 'hair_v1', adherence_before: 0.4, adherence_after: 0.55, verdict: 'promote', reason: 'won', promoted: ['hair_v1'] },
  { round: 2, started_at: '2026-11-02T12:00:00Z', finished_at: '2026-11-02T12:45:00Z', target: 'hair=blue', lora: 'hair_v2', adherence_before: 0.55, adherence_after: 0.5, verdict: 'reject', reason: 'lost', promoted: ['hair_v1'] },
  { round: 3, started_at: '2026-11-03T12:00:00Z', finished_at: '2026-11-03T13:00:00Z', target: null, lora: 'hair_v3', adherence_before: 0.55, adherence_after: 0.62, verdict: 'promote', reason: 'won', promoted: ['hair_v1', 'hair_v3'] },
];

async function png(i: number, matched: boolean): Promise<Buffer> {
  const hue = (i * 47) % 255;
  return sharp({ create: { width: 96, height: 64, channels: 3, background: { r: hue, g: matched ? 200 : 40, b: 255 - hue } } })
    .png()
    .toBuffer();
}

function rowsFor(planned: Planned, i: number, dir: string) {
  const prompt_id = `p${String(i).padStart(3, '0')}`;
  const image_id = planned.status === 'failed' ? '' : `img${String(i).padStart(3, '0')}`;
  const keys = alternatives[planned.axis];
  const prompt = {
    prompt_id, source: planned.source, session: planned.session, theme: null, style: null, idx: i,
    prompt: planned.text, api_prompt: planned.text, negative_prompt: '', seed: 1000 + i,
    variations: { [planned.axis]: { key: planned.value, value: planned.value, text: planned.text, alternatives: planned.axis } },
    params: {}, manifest: {}, manifest_variations: '',
  };
  const filename = `${planned.session}_${String(i).padStart(4, '0')}_seed-${1000 + i}.png`;
  const image = {
    image_id, prompt_id, path: image_id ? join(dir, 'data/objects', `${image_id}.png`) : '', seed: 1000 + i, width: 96, height: 64,
    backend: 'synthetic', endpoint: 'synthetic', model_name: planned.model[0], model_hash: planned.model[1], loras: planned.loras,
    gen_ms: 5, status: planned.status ?? 'ok', error: planned.status === 'failed' ? failedError : null, rendered: null,
    session_dir: planned.dir, filename,
  };
  const p_target = planned.matched ? 0.8 : 0.2;
  const other = keys.find((k) => k !== planned.value)!;
  const score = {
    image_id, prompt_id, axis: planned.axis, value: planned.value, p_target, margin: planned.matched ? 0.6 : -0.6,
    rank: planned.matched ? 1 : 2, matched: planned.matched, top_value: planned.matched ? planned.value : other, method: 'zero-shot', model: 'demo-clip',
  };
  const blank = planned.status === 'blank';
  const quality = {
    image_id, prompt_id, blank, uniform: blank, black: false, blur: planned.blurred ? 2 : 50, blurred: planned.blurred ?? false,
    // as the scorer writes it: every image names its group (its phash); a shared one means duplicates
    phash: `ph${i}`, duplicate_group: planned.duplicate ?? `ph${i}`, aesthetic: null, match_score: planned.matched ? 0.9 : 0.3,
    verdict: blank ? 'blank' : planned.matched ? 'success' : 'failed', flagged: blank || (planned.blurred ?? false),
  };
  return { prompt, image, score, quality };
}

async function writeParquet(db: Awaited<ReturnType<DuckDBInstance['connect']>>, dir: string, name: string, schema: z.ZodObject<z.ZodRawShape>, rows: Row[]) {
  const ndjson = join(dir, `${name}.ndjson`);
  await writeFile(ndjson, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const columns = columnsOf(schema).map(([c, t]) => `'${c}': '${t}'`).join(', ');
  const parquet = join(dir, 'data/tables', `${name}.parquet`);
  await db.run(`COPY (SELECT * FROM read_json('${ndjson}', format='newline_delimited', columns={${columns}})) TO '${parquet}' (FORMAT parquet)`);
  return parquet;
}

export interface TestCommandContext extends CommandContext {
  out: string[];
  err: string[];
  close(): void;
}

export interface Fixture {
  dir: string;
  ctx: TestCommandContext;
}

/** The known data set as a project folder plus a CommandContext over it. */
export async function buildFixture(options: { withLoop?: boolean; skip?: string[] } = {}): Promise<Fixture> {
  const dir = await mkdtemp(join(tmpdir(), 'sdloop-report-'));
  await mkdir(join(dir, 'data/tables'), { recursive: true });
  await mkdir(join(dir, 'data/objects'), { recursive: true });
  const rows = plan.map((p, i) => rowsFor(p, i, dir));
  for (const [i, { image }] of rows.entries()) {
    if (!image.image_id) continue;
    const bytes = await png(i, plan[i].matched);
    await writeFile(image.path, bytes);
    await mkdir(join(dir, image.session_dir), { recursive: true });
    await writeFile(join(dir, image.session_dir, image.filename), bytes);
  }
  const generated = rows.filter((_, i) => plan[i].status !== 'missing');
  const scored = generated.filter((r) => r.image.image_id);
  const instance = await DuckDBInstance.create(':memory:');
  const db = await instance.connect();
  const tableRows: [string, z.ZodObject<z.ZodRawShape>, Row[]][] = [
    ['prompts', tables.promptRow, rows.map((r) => r.prompt)],
    ['images', tables.imageRow, generated.map((r) => r.image)],
    ['scores', tables.scoreRow, scored.map((r) => r.score)],
    ['quality', tables.qualityRow, scored.map((r) => r.quality)],
    // as catalog derives it from the axes: each value's text is the first the plan gives it
    ['variation_values', tables.variationValueRow, variationValues(Object.entries(alternatives).map(([axis, keys]) => ({
      alternatives: axis, axis, keys, texts: keys.map((k) => plan.find((p) => p.axis === axis && p.value === k)!.text),
    })))],
    // as the sessions stage derives it from the tables above
    ['sessions', tables.sessionRow, judgeSessions({
      images: generated.map((r) => tables.catalogImageRow.parse({ ...r.image, origin: 'generated', annotated: false })),
      prompts: rows.map((r) => tables.promptRow.parse(r.prompt)),
      quality: scored.map((r) => tables.qualityRow.parse(r.quality)),
      scores: scored.map((r) => tables.scoreRow.parse(r.score)),
      imported_sessions: [],
    }, 0.75)],
  ];
  const artifacts: Record<string, { path: string; hash: string }> = {};
  for (const [name, schema, data] of tableRows) {
    if (options.skip?.includes(name)) continue;
    const path = await writeParquet(db, dir, name, schema, data);
    await db.run(`CREATE VIEW ${name} AS SELECT * FROM read_parquet('${path}')`);
    artifacts[name] = { path, hash: name };
  }
  if (options.withLoop ?? true) {
    // as the loop command creates it (commands/loop-state.ts)
    await db.run('CREATE TABLE loop_rounds (round BIGINT, started_at VARCHAR, finished_at VARCHAR, target VARCHAR, lora VARCHAR, adherence_before DOUBLE, adherence_after DOUBLE, verdict VARCHAR, reason VARCHAR, promoted VARCHAR[])');
    for (const r of loopRounds) {
      await db.run('INSERT INTO loop_rounds VALUES ($round, $started_at, $finished_at, $target, $lora, $adherence_before, $adherence_after, $verdict, $reason, $promoted::VARCHAR[])', {
        ...r,
        promoted: JSON.stringify(r.promoted),
      });
    }
  }
  const out: string[] = [];
  const err: string[] = [];
  const ctx: TestCommandContext = {
    projectDir: dir,
    dataDir: join(dir, 'data'),
    params: {},
    async sql<T = Row>(query: string, params?: Record<string, unknown>) {
      const reader = await db.runAndReadAll(query, params as never);
      return reader.getRowObjectsJson() as T[];
    },
    async tables() {
      return artifacts;
    },
    async run() {
      throw new Error('the test context does not run pipelines');
    },
    stdout: (text) => out.push(text),
    stderr: (text) => err.push(text),
    out,
    err,
    close: () => {
      db.closeSync();
      instance.closeSync();
    },
  };
  return { dir, ctx };
}
