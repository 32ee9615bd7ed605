// catalog's union of the two origins (the stage itself, its SQL on Parquet of hand-made
// rows) and the sessions verdicts.
import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import catalogStage from '../../stages/catalog/index.js';
import { makeTestContext } from '../../src/testing.js';
import type { Row } from '../../src/stage.js';
import { judgeSessions } from '../../stages/sessions/index.js';
import type { CatalogImageRow, CatalogPromptRow, ImageRow, PromptRow, QualityRow, ScoreRow } from '../../schemas/tables.js';

function image(id: string, dir: string, extra: Partial<CatalogImageRow> = {}): CatalogImageRow {
  return {
    image_id: id, prompt_id: `p-${id}`, path: `${dir}/${id}.png`, seed: 1, width: 64, height: 64, backend: 'imported', endpoint: '',
    model_name: '', model_hash: '', loras: [], gen_ms: 0, status: 'ok', error: null, rendered: null, session_dir: dir, filename: `${id}.png`,
    origin: 'imported', annotated: false, ...extra,
  };
}

function prompt(id: string, source: string): CatalogPromptRow {
  return {
    prompt_id: `p-${id}`, source, session: 's', theme: null, style: null, idx: 0, prompt: '', api_prompt: '', negative_prompt: '', seed: 1,
    variations: {}, params: {}, manifest: {}, manifest_variations: '', origin: 'imported', unresolved: [],
  };
}

const quality = (id: string, match: number, flagged = false): QualityRow => ({
  image_id: id, prompt_id: `p-${id}`, blank: false, uniform: false, black: false, blur: 100, blurred: false, phash: '0', duplicate_group: null,
  aesthetic: null, match_score: match, verdict: 'success', flagged,
});
const score = (id: string): ScoreRow => ({ image_id: id, prompt_id: `p-${id}`, axis: 'Hair', value: 'Red', p_target: 0.9, margin: 0.5, rank: 0, matched: true, top_value: 'Red', method: 'zero-shot', model: 'demo' });

/** Catalog run on these input tables, with `pruned` recorded as a prune batch; its tables read back in full. */
async function runCatalog(inputs: Record<string, Row[]>, pruned: string[]): Promise<{ images: CatalogImageRow[]; prompts: CatalogPromptRow[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'sdloop-catalog-'));
  const record = { batch: 'b1', created_at: '2026-01-01T00:00:00Z', where: 'test', items: pruned.map((image_id) => ({ image_id, prompt_id: `p-${image_id}`, file: '', trash_file: '', restored_at: null })) };
  mkdirSync(join(dir, 'data', 'trash', 'b1'), { recursive: true });
  writeFileSync(join(dir, 'data', 'trash', 'b1', 'record.json'), JSON.stringify(record));
  try {
    const out = await catalogStage.run(makeTestContext({ dir, params: {}, inputs }));
    const all = async (chunks: unknown) => {
      const rows: Row[] = [];
      for await (const chunk of chunks as AsyncIterable<Row[]>) rows.push(...chunk);
      return rows;
    };
    return { images: (await all(out.images)) as CatalogImageRow[], prompts: (await all(out.prompts)) as CatalogPromptRow[] };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const generatedImage = (id: string, dir: string): ImageRow => {
  const { origin: _o, annotated: _a, ...row } = image(id, dir);
  return row;
};
const plannedPrompt = (id: string, source: string): PromptRow => {
  const { origin: _o, unresolved: _u, ...row } = prompt(id, source);
  return row;
};

describe('catalog', () => {
  it('keeps one row per content hash, a generated copy over an imported one, and drops pruned imports', async () => {
    const imported = [image('g1', '/u/a'), image('i1', '/u/b'), image('i1', '/u/a'), image('i2', '/u/a')];
    const prompts = [prompt('g1', '/u/a/g1.png'), prompt('i1', '/u/b/i1.png'), prompt('i1', '/u/a/i1.png'), prompt('i2', '/u/a/i2.png')];
    const inputs = { rendered: [generatedImage('g1', '/p/data/sessions/x')], planned: [plannedPrompt('g1', 'a.prompt.yaml')], imported, imported_prompts: prompts };
    const merged = await runCatalog(inputs, ['i2']);
    expect(merged.images.map((i) => [i.image_id, i.origin, i.session_dir])).toEqual([['g1', 'generated', '/p/data/sessions/x'], ['i1', 'imported', '/u/a']]);
    expect(merged.prompts.map((p) => [p.prompt_id, p.origin, p.source])).toEqual([['p-g1', 'generated', 'a.prompt.yaml'], ['p-i1', 'imported', '/u/a/i1.png']]);
    expect(merged.prompts[0]!.unresolved).toEqual([]);
    expect(merged.images[0]!.annotated).toBe(false);
  });

  it('drops a pruned generated image, and does not let its imported copy stand in for it', async () => {
    const merged = await runCatalog({ rendered: [generatedImage('g1', '/p/data/sessions/x')], imported: [image('g1', '/u/a'), image('i1', '/u/a')] }, ['g1']);
    expect(merged.images.map((i) => i.image_id)).toEqual(['i1']);
  });

  it('keeps the generated images in their table order and the imported ones in path order', async () => {
    const rendered = ['g3', 'g1', 'g2'].map((id) => generatedImage(id, '/p/s'));
    const imported = [image('i1', '/u/c'), image('i2', '/u/a'), image('i3', '/u/b')];
    const merged = await runCatalog({ rendered, imported }, []);
    expect(merged.images.map((i) => i.image_id)).toEqual(['g3', 'g1', 'g2', 'i2', 'i3', 'i1']);
  });
});

describe('sessions', () => {
  it('averages match over measured images only, counts annotated as flagged and judges by the threshold', () => {
    const images = [image('a', '/u/s1'), image('b', '/u/s1'), image('c', '/u/s1', { annotated: true }), image('d', '/u/s2')];
    const rows = judgeSessions({
      images,
      prompts: [],
      quality: [quality('a', 0.9), quality('b', 0.7), quality('c', 1), quality('d', 0.5, true)],
      // c has no measured axis (its variations were withheld): its match_score of 1 must not count
      scores: [score('a'), score('b'), score('d')],
      imported_sessions: [
        { session_dir: '/u/s1', session: 's1', format: 'v2', confidence: null, status: 'completed', planned: 5, present: 3, failed_indexes: [3, 4], unreadable: [] },
        { session_dir: '/u/s2', session: 's2', format: 'png-info', confidence: null, status: null, planned: 1, present: 1, failed_indexes: [], unreadable: [] },
      ],
    }, 0.75);
    expect(rows[0]).toMatchObject({ session: 's1', planned: 5, present: 3, failed: 2, scored: 2, flagged: 1, annotated: 1, verdict: 'complete' });
    expect(rows[0]!.mean_match).toBeCloseTo(0.8, 10);
    expect(rows[1]).toMatchObject({ session: 's2', mean_match: 0.5, flagged: 1, verdict: 'review' });
  });
});
