// The params layer reads stage schemas for two things: which paths a stage reads at all
// (a --set of anything else is refused with a suggestion) and which are operational or
// derivation params (kept out of fingerprints and memo keys).
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { closestPath, paramRoles, readsPath, unknownParamPath, withoutPaths } from '../../src/param-schema.js';
import { derivation, operational } from '../../src/stage.js';
import generate from '../../stages/generate/index.js';
import score from '../../stages/score/index.js';

describe('param roles', () => {
  it('finds marks through defaults, prefaults, descriptions and extended objects', () => {
    const schema = z.object({
      s: z.object({
        workers: operational(z.number().default(2)).describe('how many'),
        t: z.object({ a: z.number().default(1) }).extend({ cut: derivation(z.number().default(0.5)) }).prefault({}),
        model: z.string().default('m'),
      }).prefault({}),
    });
    expect([...paramRoles(schema)]).toEqual([['s.workers', 'operational'], ['s.t.cut', 'derivation']]);
  });

  it('marks what the built-in map stages declare', () => {
    expect([...paramRoles(generate.params).keys()].sort()).toEqual(
      ['generate.backoff_ms', 'generate.concurrency', 'generate.endpoints', 'generate.max_image_megapixels', 'generate.max_response_mb', 'generate.retries', 'generate.timeout_s'],
    );
    const roles = paramRoles(score.params);
    expect(roles.get('score.batch_size')).toBe('operational');
    expect(roles.get('score.thresholds.success')).toBe('derivation');
    // A blank frame is never read by CLIP: the blank thresholds decide what is measured.
    expect(roles.get('score.thresholds.black_mean')).toBeUndefined();
  });

  it('drops paths from a params tree without touching the original', () => {
    const tree = { g: { a: 1, b: { c: 2, d: 3 } } };
    expect(withoutPaths(tree, ['g.a', 'g.b.c', 'g.missing.x'])).toEqual({ g: { b: { d: 3 } } });
    expect(tree.g.a).toBe(1);
  });
});

describe('unknown params', () => {
  const readers = [{ paths: ['generate'], schema: generate.params }, { paths: ['score'], schema: score.params }, { paths: ['shell'] }];

  it('reads object keys, anything under a record, and anything under a schema-less stage', () => {
    expect(readsPath(generate.params, ['generate', 'concurrency'])).toBe(true);
    expect(readsPath(generate.params, ['generate', 'value_failure_rates', 'Hair:Red'])).toBe(true);
    expect(readsPath(generate.params, ['generate', 'concurency'])).toBe(false);
    expect(unknownParamPath(['shell.any.depth', 'score.zones.hair'], {}, readers)).toBeUndefined();
  });

  it('names the first unknown path and the known path it most likely meant', () => {
    expect(unknownParamPath(['generate.concurency'], { generate: { backend: 'synthetic' } }, readers)).toEqual({
      path: 'generate.concurency', suggestion: 'generate.concurrency',
    });
    expect(unknownParamPath(['extra.x'], { extra: { x: 1 } }, readers)).toBeUndefined();
    expect(unknownParamPath(['nothing.like.it'], {}, readers)).toEqual({ path: 'nothing.like.it', suggestion: undefined });
    expect(closestPath('score.tresholds', ['score.thresholds', 'score.threads'])).toBe('score.thresholds');
  });
});
