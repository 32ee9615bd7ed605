// The example project (its frozen copy under test/fixtures/example) plans as its comments say, with themes and styles.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { planPromptFile } from '../../stages/resolve/templates/plan.js';
import { exampleDir } from '../example-project.js';

const projectDir = exampleDir;
const planOf = (file: string, options = {}) => planPromptFile(join(projectDir, 'data/prompts', file), { projectDir, ...options });

describe('example project', () => {
  it('plans 186 images across four prompt files', () => {
    const counts = ['character', 'scenery', 'accessory', 'pet'].map((n) => planOf(`${n}.prompt.yaml`).rows.length);
    expect(counts).toEqual([48, 60, 30, 48]);
  });

  it('character: template chain, chunks with parameters and defaults, multipart parts', () => {
    const plan = planOf('character.prompt.yaml');
    const { rows } = plan;
    const first = rows[0]!;
    expect(first.source).toBe('data/prompts/character.prompt.yaml');
    expect(first.prompt).toMatch(/^masterpiece, best quality, 1girl, solo, blonde hair, wearing oversized hoodie, streetwear, sneakers,\nstanding, arms at sides, (soft studio|golden hour|dramatic rim) light, 85mm portrait lens$/);
    expect(first.api_prompt).not.toContain('\n');
    expect(first.negative_prompt).toBe('lowres, blurry, bad anatomy, extra fingers, watermark');
    expect(first.params).toMatchObject({ width: 512, height: 768, steps: 20, sampler_name: 'Euler a' });
    expect(Object.keys(first.variations)).toEqual(['HairColor', 'Outfit', 'Pose', 'Lighting']);
    const outfit = plan.axes.find((a) => a.alternatives === first.variations.Outfit!.alternatives)!;
    expect(first.variations.Outfit).toMatchObject({ key: 'Streetwear' });
    expect(outfit).toMatchObject({ axis: 'Outfit', keys: ['Streetwear', 'Formal', 'Armor', 'Kimono'] });
    expect(outfit.texts[1]).toBe('black evening dress');
    expect(rows.map((r) => r.seed)).toEqual(rows.map((_, i) => 1000 + i));
  });

  it('themes replace the template imports; styles and [Remove]', () => {
    const cyberPlan = planOf('character.prompt.yaml', { theme: 'cyberpunk' });
    const cyber = cyberPlan.rows;
    expect(cyber).toHaveLength(3 * 4 * 3);
    expect(cyber[0]!.theme).toBe('cyberpunk');
    expect(cyberPlan.axes.find((a) => a.alternatives === cyber[0]!.variations.HairColor!.alternatives)!.keys).toEqual(['Neon', 'Chrome', 'Cyan']);
    const cartoon = planOf('character.prompt.yaml', { theme: 'cyberpunk', style: 'cartoon' }).rows;
    expect(cartoon[0]!.variations.HairColor!.key).toBe('Pink');
    const fantasy = planOf('character.prompt.yaml', { theme: 'fantasy' }).rows;
    expect(fantasy).toHaveLength(3 * 4);
    expect(fantasy[0]!.variations.Pose).toBeUndefined();
    expect(fantasy[0]!.prompt).toMatch(/sneakers, (soft studio|golden hour|dramatic rim) light, 85mm/);
    expect(planOf('character.prompt.yaml', { theme: 'fantasy', style: 'cartoon' }).rows).toHaveLength(3 * 4 * 3);
  });

  it('is byte-for-byte deterministic and depends on every file it read', () => {
    const a = planOf('accessory.prompt.yaml');
    expect(JSON.stringify(planOf('accessory.prompt.yaml').rows)).toBe(JSON.stringify(a.rows));
    expect(new Set(a.rows.map((r) => `${r.variations.HairColor!.key}/${r.variations.Accessory!.key}/${r.variations.Background!.key}`)).size).toBe(30);
    expect(a.files.map((f) => f.slice(projectDir.length + 1)).sort()).toEqual([
      'data/prompts/accessory.prompt.yaml', 'data/templates/base.template.yaml',
      'data/variations/accessory.yaml', 'data/variations/background.yaml', 'data/variations/hair-color.yaml',
    ]);
  });
});

describe('manifest snapshot', () => {
  it('carries what manifest.json needs, shared by the rows of one file', () => {
    const { rows, manifests } = planOf('accessory.prompt.yaml', { seeds: '2#5' });
    expect(rows[0]!.manifest).toBe(rows[rows.length - 1]!.manifest);
    expect(new Set(rows.map((r) => r.manifest_variations))).toEqual(new Set([manifests[0]!.manifest_variations]));
    expect(rows[0]!.manifest).not.toHaveProperty('variations');
    expect(rows[0]!.manifest).toMatchObject({
      version: '2.0',
      generation_params: { mode: 'random', seed_mode: 'random', base_seed: 42, num_images: 30, total_combinations: 45, seed_list: [5, 6] },
      api_params: { width: 512, height: 768 },
      fixed_placeholders: {},
      theme_name: null,
      output: { session_name: 'accessory', filename_keys: ['Accessory'] },
    });
    const hair = (manifests[0]!.variations as Record<string, { available: string[]; count: number }>).HairColor!;
    expect(hair.available).toEqual(['blonde hair', 'black hair', 'bright red hair']);
    expect(hair.count).toBe(3);
    expect((rows[0]!.manifest.resolved_template as { prompt: string }).prompt).toContain('{HairColor[#0-2]}');
  });
});
