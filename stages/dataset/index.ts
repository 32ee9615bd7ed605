// dataset: the selection as a kohya_ss / sd-scripts training folder:
//   img/<repeats>_<concept>/<image_id>.png  (hard links into the object store; <concept> is
//                                            <axis>_<value>, an inline value by its text)
//   img/<repeats>_<concept>/<image_id>.txt  (trigger word, then the image's values as tags)
//   dataset.toml, summary.json
// Everything is derived from the selection in sorted order with no timestamps, so an
// identical selection gives a byte-identical folder (and the same artifact hash).
import { access, mkdir, writeFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { z } from 'zod';
import { defineStage, type StageContext } from '../../src/stage.js';
import { produceAtomic } from '../../src/atomic.js';
import { cloneFile } from '../../src/store.js';
import { hashValue } from '../../src/hash.js';
import type { ImageRow, PromptRow, SelectionRow } from '../../schemas/tables.js';
import { renderDatasetToml } from '../../adapters/kohya-toml.js';
import { isInlineKeyOf } from '../resolve/templates/imports.js';

const datasetParams = z.object({
  trigger: z.string().regex(/^[^,\n]+$/, 'one caption tag: no commas or newlines').default('sdloop'),
  max_repeats: z.number().int().positive().default(10).describe('repeats of the smallest concept; larger ones get fewer'),
  resolution: z.number().int().positive().nullable().default(null)
    .describe("null: left out of dataset.toml, so sd-scripts takes train.resolution (1024 with train.sdxl, else 512)"),
  batch_size: z.number().int().positive().default(1),
  keep_tokens: z.number().int().min(0).default(1).describe('leading caption tags that shuffle_caption leaves in place'),
  shuffle_caption: z.boolean().default(true),
  enable_bucket: z.boolean().default(true).describe('let sd-scripts bucket non-square images instead of cropping'),
});

export const paramsSchema = z.object({ dataset: datasetParams.prefault({}) });
type Params = z.infer<typeof paramsSchema>;
type DatasetParams = Params['dataset'];

export interface Concept {
  /** folder name under img/: <repeats>_<name> */
  dir: string;
  axis: string;
  value: string;
  repeats: number;
  images: { imageId: string; caption: string }[];
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Safe in a folder name and free of the tag separator; a long inline text is cut short. */
function conceptName(axis: string, value: string): string {
  return `${axis}_${value}`.replace(/[^\p{L}\p{N}._-]+/gu, '-').replace(/^(.{64}).+$/u, '$1').replace(/-+$/, '');
}

/** How a person reads a value: its key, or for sdgen's inline MD5 key the text it renders. */
function valueName(axis: string, key: string, prompt: PromptRow | undefined): string {
  const chosen = prompt?.variations[axis];
  const text = chosen?.key === key ? chosen.text : undefined;
  // an inline item that is only a LoRA call has no words to name a folder by
  return (text !== undefined && isInlineKeyOf(key, text) && tagText(text)) || key;
}

/** A variation's text as a caption tag: no LoRA/hypernet calls, one line. */
function tagText(text: string): string {
  return text.replace(/<(lora|lyco|hypernet):[^>]*>/gi, ' ').replace(/\s+/g, ' ').replace(/^[\s,]+|[\s,]+$/g, '');
}

function tagsOf(prompt: PromptRow | undefined, firstAxis: string): string[] {
  if (!prompt) return [];
  const axes = Object.keys(prompt.variations).sort((a, b) => (a === firstAxis ? -1 : b === firstAxis ? 1 : compare(a, b)));
  return axes.map((axis) => tagText(prompt.variations[axis]!.text));
}

export function captionFor(trigger: string, prompt: PromptRow | undefined, firstAxis: string): string {
  return [...new Set([trigger, ...tagsOf(prompt, firstAxis)].filter(Boolean))].join(', ');
}

/** Balance concepts: the smallest gets max_repeats, the others about as many images x repeats. */
export function repeatsFor(count: number, smallest: number, maxRepeats: number): number {
  return Math.max(1, Math.min(maxRepeats, Math.round((maxRepeats * smallest) / count)));
}

/** Each image once, in the concept of its best-ranked selection row. */
export function planConcepts(selection: SelectionRow[], prompts: Map<string, PromptRow>, promptOf: Map<string, string>, p: DatasetParams): Concept[] {
  const ordered = [...selection].sort(
    (a, b) => a.rank - b.rank || b.score - a.score || compare(a.axis, b.axis) || compare(a.value, b.value) || compare(a.image_id, b.image_id),
  );
  const groups = new Map<string, { axis: string; value: string; name: string; ids: string[] }>();
  const placed = new Set<string>();
  for (const row of ordered) {
    if (placed.has(row.image_id)) continue;
    placed.add(row.image_id);
    const key = `${row.axis}\u0000${row.value}`;
    const name = conceptName(row.axis, valueName(row.axis, row.value, prompts.get(promptOf.get(row.image_id) ?? '')));
    const group = groups.get(key) ?? { axis: row.axis, value: row.value, name, ids: [] };
    group.ids.push(row.image_id);
    groups.set(key, group);
  }
  const sorted = [...groups.values()].sort((a, b) => compare(a.axis, b.axis) || compare(a.value, b.value));
  const smallest = Math.min(...sorted.map((g) => g.ids.length));
  const names = new Map<string, number>();
  for (const g of sorted) names.set(g.name, (names.get(g.name) ?? 0) + 1);
  return sorted.map((g) => {
    const name = names.get(g.name)! > 1 ? `${g.name}-${hashValue([g.axis, g.value]).slice(0, 8)}` : g.name;
    const repeats = repeatsFor(g.ids.length, smallest, p.max_repeats);
    return {
      dir: `${repeats}_${name}`,
      axis: g.axis,
      value: g.value,
      repeats,
      images: g.ids.sort(compare).map((imageId) => ({
        imageId,
        caption: captionFor(p.trigger, prompts.get(promptOf.get(imageId) ?? ''), g.axis),
      })),
    };
  });
}

const exists = (path: string) => access(path).then(() => true, () => false);

/** Captions name every variation: an imported image with a text no key matched (or burned into it) would teach the wrong one. */
function knownKeys(image: (ImageRow & { origin?: string; annotated?: boolean }) | undefined, prompt: (PromptRow & { unresolved?: unknown[] }) | undefined): boolean {
  if (image?.origin !== 'imported') return true;
  return !image.annotated && prompt !== undefined && (prompt.unresolved ?? []).length === 0 && Object.keys(prompt.variations).length > 0;
}

/** The PNG of an image: its object in the store (checked against its hash), else the path the images table gives. */
async function sourceOf(ctx: StageContext<Params>, image: ImageRow | undefined, imageId: string): Promise<string> {
  const stored = ctx.store.pathOf(imageId, 'png');
  const hadObject = await exists(stored);
  const verified = await ctx.store.verified(imageId, 'png');
  if (verified) return verified;
  if (image?.path) {
    const path = isAbsolute(image.path) ? image.path : join(ctx.projectDir, image.path);
    if (path !== stored && (await exists(path))) return path;
  }
  if (hadObject) throw new Error(`the stored image ${stored} was damaged (its bytes no longer match its hash) and is removed: the next run makes it again`);
  throw new Error(`selected image ${imageId} has no PNG in the object store (${stored}) nor at its images.path`);
}

/** Every selected image's PNG, checked before anything is written: all damaged ones are named (and removed) at once. */
async function sourcesOf(ctx: StageContext<Params>, concepts: Concept[], imageById: Map<string, ImageRow>): Promise<Map<string, string>> {
  const sources = new Map<string, string>();
  const problems: string[] = [];
  for (const { imageId } of concepts.flatMap((c) => c.images)) {
    if (sources.has(imageId)) continue;
    await sourceOf(ctx, imageById.get(imageId), imageId).then((path) => sources.set(imageId, path), (error: Error) => problems.push(error.message));
  }
  if (problems.length === 1) throw new Error(problems[0]);
  if (problems.length > 1) throw new Error(`${problems.length} selected images cannot be used:\n${problems.join('\n')}`);
  return sources;
}

function summaryOf(concepts: Concept[], p: DatasetParams) {
  const trainImages = concepts.reduce((n, c) => n + c.images.length * c.repeats, 0);
  return {
    trigger: p.trigger,
    images: concepts.reduce((n, c) => n + c.images.length, 0),
    train_images: trainImages,
    steps_per_epoch: Math.ceil(trainImages / p.batch_size),
    concepts: concepts.map((c) => ({ dir: `img/${c.dir}`, axis: c.axis, value: c.value, images: c.images.length, repeats: c.repeats })),
  };
}

export default defineStage<Params>({
  description: 'kohya_ss / sd-scripts dataset folder (images, captions, dataset.toml) from the selection',
  version: '2',
  params: paramsSchema,
  outputs: { dataset: { kind: 'path' } },
  async run(ctx) {
    const rows = async <T>(name: string) => {
      const artifact = ctx.inputs[name];
      if (artifact?.kind !== 'table') throw new Error(`dataset needs the table input '${name}'`);
      return artifact.rows<T>();
    };
    const [selection, images, prompts] = await Promise.all([
      rows<SelectionRow>('selection'),
      rows<ImageRow>('images'),
      rows<PromptRow>('prompts'),
    ]);
    const p = ctx.params.dataset;
    const imageById = new Map(images.map((i) => [i.image_id, i]));
    const promptOf = new Map(images.map((i) => [i.image_id, i.prompt_id]));
    const promptById = new Map(prompts.map((r) => [r.prompt_id, r]));
    const trainable = selection.filter((s) => knownKeys(imageById.get(s.image_id), promptById.get(promptOf.get(s.image_id) ?? '')));
    if (trainable.length < selection.length) ctx.log(`${selection.length - trainable.length} selected imported images left out: some of their variation keys are unknown`);
    const concepts = planConcepts(trainable, promptById, promptOf, p);
    if (concepts.length === 0) ctx.warn('the selection is empty: the dataset folder has no images to train on');

    const sources = await sourcesOf(ctx, concepts, imageById);
    const dir = ctx.outDir('dataset');
    await produceAtomic(dir, async (tmp) => {
      await mkdir(join(tmp, 'img'), { recursive: true });
      for (const concept of concepts) {
        const folder = join(tmp, 'img', concept.dir);
        await mkdir(folder);
        for (const { imageId, caption } of concept.images) {
          const source = sources.get(imageId)!;
          // Never a hard link: a trainer or a user editing the dataset in place would edit the store (or the user's own file) with it.
          await cloneFile(source, join(folder, `${imageId}.png`));
          await writeFile(join(folder, `${imageId}.txt`), caption);
        }
      }
      const toml = renderDatasetToml({
        general: { shuffle_caption: p.shuffle_caption, caption_extension: '.txt', keep_tokens: p.keep_tokens, enable_bucket: p.enable_bucket },
        dataset: { resolution: p.resolution ?? undefined, batch_size: p.batch_size },
        subsets: concepts.map((c) => ({ image_dir: `img/${c.dir}`, num_repeats: c.repeats })),
      });
      await writeFile(join(tmp, 'dataset.toml'), toml);
      await writeFile(join(tmp, 'summary.json'), `${JSON.stringify(summaryOf(concepts, p), null, 2)}\n`);
    });
    ctx.log(`concepts: ${concepts.map((c) => `${c.dir} (${c.images.length})`).join(', ') || 'empty'}`);
    return { dataset: { path: dir } };
  },
});
