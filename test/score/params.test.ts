import { describe, expect, it } from 'vitest';
import { DEFAULT_PHRASINGS, phrasingsFor, scoreStageParams } from '../../stages/score/params.js';

describe('score params', () => {
  it('fill every default from an empty pipeline.yaml block', () => {
    const { score } = scoreStageParams.parse({});
    expect(score).toMatchObject({ model: 'demo', variant: 'fp32', fallback_model: null, device: 'cpu', batch_size: null, workers: null, cascade_margin: 0.2, zones: {} });
    expect(score.thresholds).toMatchObject({ success: 0.8, partial: 0.5, matched: 0.5, flagged: 0.7, duplicate_distance: 6 });
    expect(phrasingsFor(score, 'HairColor')).toEqual(DEFAULT_PHRASINGS);
  });

  it('take per-axis phrasings and keep the default ensemble for other axes', () => {
    const { score } = scoreStageParams.parse({ score: { phrasings: { HairColor: ['a person with {v}'] } } });
    expect(phrasingsFor(score, 'HairColor')).toEqual(['a person with {v}']);
    expect(phrasingsFor(score, 'Outfit')).toEqual(DEFAULT_PHRASINGS);
  });

  it('say what is expected of phrasings and zones', () => {
    const bad = scoreStageParams.safeParse({ score: { phrasings: { default: ['a photo'] } } });
    expect(bad.success).toBe(false);
    expect(bad.error!.issues[0].message).toMatch(/containing \{v\}/);
    const box = scoreStageParams.safeParse({ score: { zones: { hair: { axis: 'HairColor', box: [0, 0.5, 1, 0.2] } } } });
    expect(box.success).toBe(false);
    expect(box.error!.issues[0].message).toMatch(/x1 > x0 and y1 > y0/);
  });
});
