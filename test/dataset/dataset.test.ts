import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import dataset, { captionFor, paramsSchema, planConcepts, repeatsFor } from '../../stages/dataset/index.js';
import { GENERAL_KEYS, SUBSET_KEYS, DATASET_KEYS } from '../../adapters/kohya-toml.js';
import { makeTestContext, runWholeStage } from '../../src/testing.js';
import { hashBytes } from '../../src/hash.js';
import type { ImageRow, SelectionRow } from '../../schemas/tables.js';
import { readDatasetFolder, countTrainImages } from '../../adapters/kohya-dataset.js';
import { makeWorld } from '../classify/world.js';

/** A world whose images are real PNGs in the test context's object store. */
async function setup(dir: string, n: number) {
  const world = makeWorld(n);
  const ctx = makeTestContext({ dir, stage: 'dataset', params: paramsSchema.parse({}) });
  const images: ImageRow[] = [];
  for (const [i, image] of world.images.entries()) {
    const png = await sharp({ create: { width: 16, height: 16, channels: 3, background: { r: i * 10, g: 80, b: 160 } } }).png().toBuffer();
    const ref = await ctx.store.put(png, 'png');
    images.push({ ...image, image_id: ref.hash, path: ref.path });
  }
  return { world: { ...world, images }, ctx };
}

function selectionOf(images: ImageRow[], picks: [number, string, string][]): SelectionRow[] {
  return picks.map(([i, axis, value], rank) => ({
    image_id: images[i].image_id, axis, value, score: 0.9, rank: rank + 1, reason: 'test',
  }));
}

async function build(dir: string, picks: [number, string, string][], params: Record<string, unknown> = {}, reverseRows = false) {
  const { world, ctx } = await setup(dir, 8);
  ctx.params = paramsSchema.parse({ dataset: params });
  const selection = selectionOf(world.images, picks);
  if (reverseRows) selection.reverse();
  ctx.inputs = makeTestContext({ dir, params: {}, inputs: { selection, images: world.images, prompts: world.prompts } }).inputs;
  const out = await runWholeStage(dataset, ctx);
  return { world, ctx, root: (out.dataset as { path: string }).path };
}

/** relative path -> content hash of every file under root, sorted. */
function tree(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else out[relative(root, path)] = hashBytes(readFileSync(path));
    }
  };
  walk(root);
  return out;
}

// In makeWorld, Hair is Bob for images 0 and 3, Long for 1, 4 and 6; Colour is Blue for image 0.
const picks: [number, string, string][] = [
  [0, 'Hair', 'Bob'], [3, 'Hair', 'Bob'], [1, 'Hair', 'Long'], [4, 'Hair', 'Long'], [6, 'Hair', 'Long'], [0, 'Colour', 'Blue'],
];

describe('dataset stage', () => {
  it('lays out img/<repeats>_<concept>/ with copied (never hard-linked) PNGs and .txt captions', async () => {
    const { world, root } = await build(mkdtempSync(join(tmpdir(), 'sdloop-dataset-')), picks);
    const files = Object.keys(tree(root));
    const id = (i: number) => world.images[i].image_id;
    expect(readdirSync(join(root, 'img')).sort()).toEqual(['10_Hair_Bob', '7_Hair_Long']);
    expect(files.filter((f) => f.startsWith('img/10_Hair_Bob/'))).toEqual(
      [id(0), id(3)].sort().flatMap((i) => [`img/10_Hair_Bob/${i}.png`, `img/10_Hair_Bob/${i}.txt`]),
    );
    expect(files).toContain('dataset.toml');
    expect(files).toContain('summary.json');
    // A trainer or a user editing the dataset in place must not edit the object store with it.
    const copied = join(root, 'img', '10_Hair_Bob', `${id(0)}.png`);
    expect(statSync(copied).ino).not.toBe(statSync(world.images[0].path).ino);
    expect(readFileSync(copied).equals(readFileSync(world.images[0].path))).toBe(true);
    const caption = readFileSync(join(root, 'img', '10_Hair_Bob', `${id(0)}.txt`), 'utf8');
    const colour = world.prompts[0].variations.Colour;
    expect(caption).toBe(`sdloop, bob cut, chin-length, ${colour.text}`);
    const summary = JSON.parse(readFileSync(join(root, 'summary.json'), 'utf8'));
    expect(summary).toEqual({
      trigger: 'sdloop', images: 5, train_images: 41, steps_per_epoch: 41,
      concepts: [
        { dir: 'img/10_Hair_Bob', axis: 'Hair', value: 'Bob', images: 2, repeats: 10 },
        { dir: 'img/7_Hair_Long', axis: 'Hair', value: 'Long', images: 3, repeats: 7 },
      ],
    });
  });

  it('reads back as the train stage reads it: subsets, repeats and caption tags', async () => {
    const { root } = await build(mkdtempSync(join(tmpdir(), 'sdloop-dataset-')), picks);
    const subsets = await readDatasetFolder(root);
    expect(subsets.map((s) => [s.dir, s.repeats, s.images.length])).toEqual([['10_Hair_Bob', 10, 2], ['7_Hair_Long', 7, 3]]);
    expect(countTrainImages(subsets)).toBe(41);
    expect(subsets[0].tags).toMatchObject({ sdloop: 2, 'bob cut': 2, 'chin-length': 2 });
    expect(subsets[1].tags).toMatchObject({ sdloop: 3, 'long flowing hair': 3 });
    expect(Object.keys(subsets[1].tags)).not.toContain('bob cut');
  });

  it('writes a dataset.toml that parses as TOML and uses only keys sd-scripts accepts', async () => {
    const { root } = await build(mkdtempSync(join(tmpdir(), 'sdloop-dataset-')), picks, { resolution: 768, keep_tokens: 2 });
    const parsed = JSON.parse(
      execFileSync('python3', ['-c', 'import json,sys,tomllib; print(json.dumps(tomllib.load(open(sys.argv[1], "rb"))))', join(root, 'dataset.toml')], { encoding: 'utf8' }),
    );
    expect(parsed.general).toEqual({ shuffle_caption: true, caption_extension: '.txt', keep_tokens: 2, enable_bucket: true });
    expect(parsed.datasets).toHaveLength(1);
    const [ds] = parsed.datasets;
    expect(ds.resolution).toBe(768);
    expect(ds.subsets).toEqual([{ image_dir: 'img/10_Hair_Bob', num_repeats: 10 }, { image_dir: 'img/7_Hair_Long', num_repeats: 7 }]);
    for (const key of Object.keys(parsed.general)) expect(GENERAL_KEYS.has(key)).toBe(true);
    for (const key of Object.keys(ds).filter((k) => k !== 'subsets')) expect(DATASET_KEYS.has(key)).toBe(true);
    for (const subset of ds.subsets) for (const key of Object.keys(subset)) expect(SUBSET_KEYS.has(key)).toBe(true);
    for (const subset of ds.subsets) expect(statSync(join(root, subset.image_dir)).isDirectory()).toBe(true);
  });

  it('leaves resolution out by default, so sd-scripts takes train.resolution (1024 for SDXL) from --resolution', async () => {
    const { root } = await build(mkdtempSync(join(tmpdir(), 'sdloop-dataset-')), picks);
    const toml = readFileSync(join(root, 'dataset.toml'), 'utf8');
    expect(toml).toMatch(/\[\[datasets\]\]\nbatch_size = 1\n/);
    expect(toml).not.toContain('resolution');
  });

  it('gives a byte-identical folder for an identical selection, wherever and however often it runs', async () => {
    const a = await build(mkdtempSync(join(tmpdir(), 'sdloop-dataset-')), picks);
    const b = await build(mkdtempSync(join(tmpdir(), 'sdloop-dataset-')), picks, {}, true);
    const first = tree(a.root);
    expect(tree(b.root)).toEqual(first);
    await runWholeStage(dataset, a.ctx);
    expect(tree(a.root)).toEqual(first);
    const changed = await build(mkdtempSync(join(tmpdir(), 'sdloop-dataset-')), picks.slice(1));
    expect(tree(changed.root)).not.toEqual(first);
  });

  it('leaves no temporary folder behind and replaces the previous dataset whole', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sdloop-dataset-'));
    const { ctx, root } = await build(dir, picks);
    ctx.inputs = makeTestContext({ dir, params: {}, inputs: { selection: [], images: [], prompts: [] } }).inputs;
    await runWholeStage(dataset, ctx);
    expect(Object.keys(tree(root))).toEqual(['dataset.toml', 'summary.json']);
    expect(readdirSync(join(root, '..')).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    expect(ctx.logs.some((l) => l.startsWith('warning: the selection is empty'))).toBe(true);
  });
});

describe('captions and repeats', () => {
  it('puts the trigger first, the concept value next, strips LoRA calls and repeats no tag', () => {
    const [prompt] = makeWorld(1).prompts;
    prompt.variations.Hair = { ...prompt.variations.Hair, text: 'bob <lora:bob:0.7>', key: 'Bob' };
    prompt.variations.Colour = { ...prompt.variations.Colour, text: 'sdloop', key: 'Red' };
    expect(captionFor('sdloop', prompt, 'Hair')).toBe('sdloop, bob');
    expect(captionFor('trig', prompt, 'Colour')).toBe('trig, sdloop, bob');
    expect(captionFor('trig', undefined, 'Hair')).toBe('trig');
  });

  it('keeps concept folders apart when two values clean up to the same name, and each image in one concept', () => {
    const row = (image_id: string, value: string, rank: number) => ({ image_id, axis: 'Hair', value, score: 0.9, rank, reason: '' });
    const concepts = planConcepts(
      [row('a', 'Bob cut', 1), row('b', 'Bob/cut', 1), row('a', 'Bob/cut', 2)],
      new Map(), new Map(), paramsSchema.parse({}).dataset,
    );
    expect(concepts.map((c) => c.images.map((i) => i.imageId))).toEqual([['a'], ['b']]);
    const [first, second] = concepts.map((c) => c.dir);
    expect(first).toMatch(/^10_Hair_Bob-cut-[0-9a-f]{8}$/);
    expect(second).toMatch(/^10_Hair_Bob-cut-[0-9a-f]{8}$/);
    expect(first).not.toBe(second);
  });

  it('balances concepts: smallest gets max_repeats, larger ones proportionally fewer, never zero', () => {
    expect([2, 4, 8, 100].map((n) => repeatsFor(n, 2, 10))).toEqual([10, 5, 3, 1]);
    expect(repeatsFor(5, 5, 10)).toBe(10);
  });
});
