import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import select, { paramsSchema, selectRows } from '../../stages/select/index.js';
import { makeTestContext, runWholeStage } from '../../src/testing.js';
import type { ImageRow, PredictionRow, PromptRow, QualityRow, SelectionRow } from '../../schemas/tables.js';
import { makeWorld } from '../classify/world.js';

function prediction(image_id: string, value: string, p_combined: number, extra: Partial<PredictionRow> = {}): PredictionRow {
  return {
    image_id, axis: 'Hair', value, p_probe: p_combined, p_zero_shot: p_combined, p_combined,
    probe_value: value, label: value, label_source: 'zero_shot', ...extra,
  };
}

function fixtures(predictions: PredictionRow[], quality: Partial<Record<string, Partial<QualityRow>>> = {}) {
  const world = makeWorld(1);
  const ids = [...new Set(predictions.map((p) => p.image_id))];
  const images: ImageRow[] = ids.map((image_id) => ({ ...world.images[0], image_id }));
  const qualities: QualityRow[] = ids.map((image_id) => ({ ...world.quality[0], image_id, ...quality[image_id] }));
  return { images, qualities };
}

const params = (s: Record<string, unknown> = {}) => paramsSchema.parse({ select: s }).select;
const pick = (rows: SelectionRow[]) => rows.map((r) => `${r.value}:${r.image_id}:${r.rank}`);

describe('select', () => {
  it('has the documented defaults', () => {
    expect(params()).toEqual({
      top_k: 8, top_fraction: null, min_score: 0.5, exclude: { blank: true, blurred: true, duplicates: true }, aesthetic_weight: 0, target: null, theme: null,
    });
  });

  it('takes the top k per (axis, value) by combined score, above min_score, ties by id', () => {
    const predictions = [
      prediction('a', 'Bob', 0.9), prediction('b', 'Bob', 0.7), prediction('c', 'Bob', 0.7), prediction('d', 'Bob', 0.95),
      prediction('e', 'Bob', 0.4), prediction('f', 'Long', 0.6), prediction('g', 'Long', 0.8),
    ];
    const { images, qualities } = fixtures(predictions);
    const { selection, excluded } = selectRows(predictions, images, qualities, params({ top_k: 3 }));
    expect(pick(selection)).toEqual(['Bob:d:1', 'Bob:a:2', 'Bob:b:3', 'Long:g:1', 'Long:f:2']);
    expect(excluded).toEqual({ 'below min_score': 1 });
    expect(selection[0].reason).toBe(
      'Hair=Bob: rank 1 of 4 eligible, top 3; p_combined 0.950 (probe 0.950, zero-shot 0.950) >= 0.5',
    );
  });

  it('takes a top fraction of the eligible images instead when set', () => {
    const predictions = Array.from({ length: 10 }, (_, i) => prediction(`i${i}`, 'Bob', 0.5 + i / 100));
    const { images, qualities } = fixtures(predictions);
    const { selection } = selectRows(predictions, images, qualities, params({ top_fraction: 0.25 }));
    expect(pick(selection)).toEqual(['Bob:i9:1', 'Bob:i8:2', 'Bob:i7:3']);
    expect(selection[0].reason).toContain('top 25% = 3');
  });

  it('excludes blank, blurred and failed images, and all but the best of near-duplicates', () => {
    const predictions = ['blank', 'black', 'blurred', 'dup1', 'dup2', 'dup3', 'fine'].map((id, i) => prediction(id, 'Bob', 0.9 - i / 100));
    const { images, qualities } = fixtures(predictions, {
      blank: { blank: true }, black: { black: true }, blurred: { blurred: true },
      dup1: { duplicate_group: 'g' }, dup2: { duplicate_group: 'g' }, dup3: { duplicate_group: 'g' },
    });
    images.find((i) => i.image_id === 'fine')!.status = 'failed';
    const { selection, excluded } = selectRows(predictions, images, qualities, params());
    expect(pick(selection)).toEqual(['Bob:dup1:1']);
    expect(selection[0].reason).toContain('best of 3 near-duplicates');
    expect(excluded).toEqual({ blank: 2, blurred: 1, duplicate: 2, 'not generated': 1 });
    qualities.find((q) => q.image_id === 'dup1')!.blurred = true;
    const blurredBest = selectRows(predictions, images, qualities, params());
    expect(pick(blurredBest.selection)).toEqual(['Bob:dup2:1']);
    const lenient = selectRows(predictions, images, qualities, params({ exclude: { blank: false, blurred: false, duplicates: false } }));
    expect(lenient.selection).toHaveLength(6);
  });

  it('keeps out images a human labelled with another value', () => {
    const predictions = [prediction('a', 'Bob', 0.9, { label: 'Long', label_source: 'human' }), prediction('b', 'Bob', 0.8)];
    const { images, qualities } = fixtures(predictions);
    const { selection } = selectRows(predictions, images, qualities, params());
    expect(pick(selection)).toEqual(['Bob:b:1']);
  });

  it('selects for one failing value only when given a target', () => {
    const predictions = [prediction('a', 'Bob', 0.9), prediction('b', 'Long', 0.8), prediction('c', 'Long', 0.7)];
    const { images, qualities } = fixtures(predictions);
    const { selection } = selectRows(predictions, images, qualities, params({ target: { axis: 'Hair', value: 'Long' } }));
    expect(pick(selection)).toEqual(['Long:b:1', 'Long:c:2']);
    expect(selection[0].reason.startsWith('micro-LoRA target Hair=Long')).toBe(true);
  });

  it('runs as a stage on table inputs', async () => {
    const predictions = [prediction('a', 'Bob', 0.9), prediction('b', 'Bob', 0.3)];
    const { images, qualities } = fixtures(predictions);
    const ctx = makeTestContext({
      dir: mkdtempSync(join(tmpdir(), 'sdloop-select-')),
      params: paramsSchema.parse({}),
      inputs: { predictions, images, quality: qualities, scores: [] },
    });
    const out = await runWholeStage(select, ctx);
    expect(pick(out.selection as SelectionRow[])).toEqual(['Bob:a:1']);
    expect(ctx.logs[0]).toContain('selected 1 images');
    ctx.params = paramsSchema.parse({ select: { target: { axis: 'Hair', value: 'Mohawk' } } });
    expect((await runWholeStage(select, ctx)).selection).toEqual([]);
    expect(ctx.logs.at(-1)).toBe("warning: select.target: axis Hair has no value 'Mohawk' (known: Bob)");
  });

  it('selects among one theme\'s images only with select.theme, and asks for the prompts input it needs', async () => {
    const world = makeWorld(1);
    const predictions = [prediction('a', 'Bob', 0.9), prediction('b', 'Bob', 0.8), prediction('c', 'Bob', 0.7), prediction('d', 'Long', 0.95)];
    const themeOf: Record<string, string | null> = { a: 'fantasy', b: 'cyberpunk', c: 'cyberpunk', d: null };
    const images: ImageRow[] = predictions.map((p) => ({ ...world.images[0], image_id: p.image_id, prompt_id: `prompt-${p.image_id}` }));
    const prompts: PromptRow[] = predictions.map((p) => ({ ...world.prompts[0], prompt_id: `prompt-${p.image_id}`, theme: themeOf[p.image_id]! }));
    const qualities: QualityRow[] = images.map((i) => ({ ...world.quality[0], image_id: i.image_id }));
    const { selection } = selectRows(predictions, images, qualities, params({ theme: 'cyberpunk' }), prompts);
    expect(pick(selection)).toEqual(['Bob:b:1', 'Bob:c:2']);
    expect(selection[0].reason.startsWith('theme cyberpunk: Hair=Bob: rank 1 of 2')).toBe(true);
    expect(pick(selectRows(predictions, images, qualities, params(), prompts).selection)).toEqual(['Bob:a:1', 'Bob:b:2', 'Bob:c:3', 'Long:d:1']);

    const dir = mkdtempSync(join(tmpdir(), 'sdloop-select-'));
    const ctx = makeTestContext({
      dir,
      params: paramsSchema.parse({ select: { theme: 'noir' } }),
      inputs: { predictions, images, quality: qualities, prompts },
    });
    expect((await runWholeStage(select, ctx)).selection).toEqual([]);
    expect(ctx.logs.at(-1)).toBe("warning: select.theme: no eligible image of theme 'noir' (themes with prompts: (none), cyberpunk, fantasy)");
    const unwired = makeTestContext({ dir, params: ctx.params, inputs: { predictions, images, quality: qualities } });
    await expect(runWholeStage(select, unwired)).rejects.toThrow('expected the input prompts: catalog.prompts on stage select for select.theme');
  });
});
