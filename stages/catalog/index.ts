// catalog: the one `images` and `prompts` tables every later stage, report and command
// reads: generate's rendered images and resolve's planned prompts, plus what ingest
// imported, told apart by `origin`. An image is its content hash, so one seen twice is
// one row (a generated copy wins over an imported one: sdloop knows its prompt for sure),
// and every image `pipeline prune` took out and did not restore is left out here, so it
// leaves scores, predictions, selection and the dataset at the next run. variation_values
// names every value as a person reads it (values.ts).
import { dirname } from 'node:path';
import { z } from 'zod';
import { defineStage, type InputArtifact, type StageContext } from '../../src/stage.js';
import { StageFailure } from '../../src/errors.js';
import { distinctAlternatives } from '../resolve/alternatives.js';
import {
  axisAlternativesRow, catalogImageRow, catalogPromptRow, variationValueRow,
  type AxisAlternativesRow, type CatalogImageRow, type CatalogPromptRow, type ImageRow, type PromptRow,
} from '../../schemas/tables.js';
import { variationValues } from './values.js';
import { describePrunedChange, prunedImageIds, prunedState, readPruneRecords } from './pruned.js';

const params = z.object({});

async function rowsOf<T>(inputs: Record<string, InputArtifact>, name: string): Promise<T[]> {
  const input = inputs[name];
  if (!input) return [];
  if (input.kind !== 'table') throw new StageFailure('catalog', `input ${name} must be a table`);
  return input.rows<T>();
}

export function mergeCatalog(
  generated: { images: ImageRow[]; prompts: PromptRow[] },
  imported: { images: CatalogImageRow[]; prompts: CatalogPromptRow[] },
  excluded: Set<string>,
): { images: CatalogImageRow[]; prompts: CatalogPromptRow[] } {
  const images: CatalogImageRow[] = generated.images
    .filter((i) => !excluded.has(i.image_id))
    .map((i) => ({ ...i, origin: 'generated', annotated: false }));
  const seen = new Set(images.map((i) => i.image_id).filter(Boolean));
  /** prompt id -> the folder of the copy kept: each copy recovered its own prompt row */
  const keptFolder = new Map<string, string>();
  for (const image of [...imported.images].sort((a, b) => a.path.localeCompare(b.path))) {
    if (seen.has(image.image_id) || excluded.has(image.image_id)) continue;
    seen.add(image.image_id);
    keptFolder.set(image.prompt_id, image.session_dir);
    images.push(image);
  }
  const prompts: CatalogPromptRow[] = generated.prompts.map((p) => ({ ...p, origin: 'generated', unresolved: [] }));
  for (const p of imported.prompts) {
    const folder = keptFolder.get(p.prompt_id);
    if (folder === undefined || dirname(p.source) !== folder) continue;
    keptFolder.delete(p.prompt_id);
    prompts.push(p);
  }
  return { images, prompts };
}

export default defineStage({
  description: 'one images, prompts and axes table of both origins: generated and imported',
  version: '3',
  params,
  outputs: {
    images: { kind: 'table', schema: catalogImageRow, runFacts: ['gen_ms', 'session_dir', 'filename'], key: ['prompt_id', 'seed'] },
    prompts: { kind: 'table', schema: catalogPromptRow, key: ['prompt_id'] },
    /** the alternatives every prompt's variations name, of both origins */
    axes: { kind: 'table', schema: axisAlternativesRow },
    /** each axis value once, with its text: what a person reads for sdgen's inline MD5 keys */
    variation_values: { kind: 'table', schema: variationValueRow, key: ['axis', 'key'] },
  },
  // The pruned set is observed state: a prune or restore reruns this cheap stage, and what
  // it leaves out then changes every table downstream, down to the dataset.
  async observe(ctx: StageContext): Promise<Record<string, string>> {
    const pruned = prunedImageIds(await readPruneRecords(ctx.dataDir));
    return pruned.size > 0 ? { pruned: prunedState(pruned) } : {};
  },
  describeObserved: (_key, was, now) => describePrunedChange(was, now),
  async run(ctx) {
    const [rendered, planned, images, prompts] = await Promise.all([
      rowsOf<ImageRow>(ctx.inputs, 'rendered'),
      rowsOf<PromptRow>(ctx.inputs, 'planned'),
      rowsOf<CatalogImageRow>(ctx.inputs, 'imported'),
      rowsOf<CatalogPromptRow>(ctx.inputs, 'imported_prompts'),
    ]);
    const pruned = prunedImageIds(await readPruneRecords(ctx.dataDir));
    const merged = mergeCatalog({ images: rendered, prompts: planned }, { images, prompts }, pruned);
    const imported = merged.images.filter((i) => i.origin === 'imported').length;
    ctx.log(`${merged.images.length - imported} generated and ${imported} imported images${pruned.size ? `; ${pruned.size} pruned left out` : ''}`);
    const axes = distinctAlternatives([
      ...(await rowsOf<AxisAlternativesRow>(ctx.inputs, 'planned_axes')),
      ...(await rowsOf<AxisAlternativesRow>(ctx.inputs, 'imported_axes')),
    ]);
    return { ...merged, axes, variation_values: variationValues(axes) };
  },
});
