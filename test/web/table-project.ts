// A project made of tables only, written here row by row, for the filters that a demo run
// cannot vary (models, LoRAs, themes, dates, flags, margins): real Parquet files that a
// pipeline.lock names, exactly what serve reads after a run. Each image's facts are kept
// in `images` so a test can work out the expected answer without the server's SQL.
import { mkdtempSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { z } from 'zod';
import { State } from '../../src/state.js';
import { writeParquet } from '../../src/tables.js';
import { columnsOf } from '../../src/table-schema.js';
import { imageRow, promptRow, qualityRow, scoreRow } from '../../schemas/tables.js';

export interface FixtureImage {
  image_id: string;
  session: string;
  seed: number;
  model: string;
  loras: string[];
  theme: string | null;
  /** YYYYMMDD_HHMMSS, the session folder's stamp */
  stamp: string;
  flagged: boolean;
  match_score: number;
  /** per axis: [asked value, margin] */
  axes: Record<string, [string, number]>;
}

const models = ['sd15-base', 'sdxl-turbo'];
const loraSets = [[], ['ink:0.8'], ['ink:0.6', 'glow:1'], ['glow:0.5']];
const themes = [null, 'cyberpunk', 'fantasy'];
const stamps = ['20261101_090000', '20261115_180000', '20261130_235959'];
const colours = ['Red', 'Blue', 'Green'];

/** 36 images over every combination the filters tell apart (the tables hold the first one twice). */
export function fixtureImages(): FixtureImage[] {
  return Array.from({ length: 36 }, (_, i) => ({
    image_id: i.toString(16).padStart(32, '0'),
    session: `s${i % 3}`,
    seed: 100 + (i % 4),
    model: models[i % 2]!,
    loras: loraSets[i % 4]!,
    theme: themes[i % 3]!,
    stamp: stamps[Math.floor(i / 12)]!,
    flagged: i % 5 === 0,
    match_score: (i % 10) / 10,
    // quarters, so margins compare exactly
    axes: { Colour: [colours[i % 3]!, ((i % 7) - 3) / 4], Size: [i % 2 ? 'Big' : 'Small', 0.5 - (i % 5) / 4] },
  }));
}

const rowsOf = <S extends z.ZodObject<z.ZodRawShape>>(schema: S, rows: unknown[]) => rows.map((r) => schema.parse(r));

function tables(images: FixtureImage[]) {
  const prompts = images.map((m, i) => ({
    prompt_id: `p${i}`, source: 'data/prompts/x.prompt.yaml', session: m.session, theme: m.theme, style: null, idx: i,
    prompt: `prompt ${i}`, api_prompt: `prompt ${i}`, negative_prompt: '', seed: m.seed, variations: {}, params: {}, manifest: {}, manifest_variations: '',
  }));
  const imageRows = images.map((m, i) => ({
    image_id: m.image_id, prompt_id: `p${i}`, path: `data/sessions/${m.stamp}-${m.session}/${i}.png`, seed: m.seed, width: 64, height: 64,
    backend: 'synthetic', endpoint: 'synthetic', model_name: m.model, model_hash: 'h', loras: m.loras, gen_ms: 1, status: 'ok', error: null,
    rendered: null, session_dir: `data/sessions/${m.stamp}-${m.session}`, filename: `${i}.png`,
  }));
  const scores = images.flatMap((m, i) => Object.entries(m.axes).map(([axis, [value, margin]]) => ({
    image_id: m.image_id, prompt_id: `p${i}`, axis, value, p_target: (margin + 1) / 2, margin, rank: margin > 0 ? 1 : 2,
    matched: margin > 0, top_value: value, method: 'full', model: 'demo',
  })));
  const quality = images.map((m, i) => ({
    image_id: m.image_id, prompt_id: `p${i}`, blank: false, uniform: false, black: false, blur: 50, blurred: false, phash: '0',
    duplicate_group: null, aesthetic: null, match_score: m.match_score, verdict: m.match_score >= 0.5 ? 'success' : 'partial', flagged: m.flagged,
  }));
  // The first image once more, as the same file found again in a later folder under another
  // prompt: the first row stands, so none of this one shows anywhere.
  const [first] = images;
  prompts.push({ ...prompts[0]!, prompt_id: 'p_again', session: 'again', theme: 'again', idx: images.length });
  imageRows.push({ ...imageRows[0]!, prompt_id: 'p_again', model_name: 'again', session_dir: `data/sessions/20261231_000000-again`, filename: 'again.png' });
  scores.push(...scores.filter((r) => r.image_id === first!.image_id).map((r) => ({ ...r, prompt_id: 'p_again', value: 'Again', margin: 1, p_target: 1 })));
  quality.push({ ...quality[0]!, prompt_id: 'p_again' });
  return {
    prompts: rowsOf(promptRow, prompts), images: rowsOf(imageRow, imageRows),
    scores: rowsOf(scoreRow, scores), quality: rowsOf(qualityRow, quality),
  };
}

const schemas = { prompts: promptRow, images: imageRow, scores: scoreRow, quality: qualityRow };

/** The project folder, its tables written and named in pipeline.lock as a run would leave them. */
export async function tableProject(images = fixtureImages()): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'sdloop-serve-tables-'));
  // a project needs a stage; this one is never run
  await writeFile(join(dir, 'pipeline.yaml'), 'stages:\n  noop: {cmd: "true"}\n');
  const state = await State.open(join(dir, 'scratch.duckdb'));
  const outs: Record<string, { kind: 'table'; path: string; hash: string }> = {};
  try {
    for (const [name, rows] of Object.entries(tables(images))) {
      const path = `data/tables/${name}.parquet`;
      const hash = await writeParquet(state, join(dir, path), columnsOf(schemas[name as keyof typeof schemas]), rows);
      outs[name] = { kind: 'table', path, hash };
    }
  } finally {
    await state.close();
  }
  const entry = { fingerprint: 'f', code: 'c', memo: 'm', params: {}, resources: {}, inputs: {}, deps: { files: 0, hash: 'd' }, outs, finished_at: new Date().toISOString(), duration_s: 0 };
  await writeFile(join(dir, 'pipeline.lock'), stringify({ schema: 1, stages: { tables: entry } }));
  return dir;
}
