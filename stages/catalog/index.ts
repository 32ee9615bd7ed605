// catalog: the one `images` and `prompts` tables every later stage, report and command
// reads: generate's rendered images and resolve's planned prompts, plus what ingest
// imported, told apart by `origin`. An image is its content hash, so one seen twice is
// one row (a generated copy wins over an imported one: sdloop knows its prompt for sure),
// and every image `pipeline prune` took out and did not restore is left out here, so it
// leaves scores, predictions, selection and the dataset at the next run. variation_values
// names every value as a person reads it (values.ts).
import { z } from 'zod';
import { defineStage, type InputArtifact, type StageContext, type TableInput } from '../../src/stage.js';
import { StageFailure } from '../../src/errors.js';
import { distinctAlternatives } from '../resolve/alternatives.js';
import { axisAlternativesRow, catalogImageRow, catalogPromptRow, variationValueRow, type AxisAlternativesRow } from '../../schemas/tables.js';
import { variationValues } from './values.js';
import { describePrunedChange, prunedImageIds, prunedState, readPruneRecords } from './pruned.js';
import { catalogImages, catalogPrompts, generatedCount, keptImports, type CatalogSources } from './merge.js';

const params = z.object({});

async function rowsOf<T>(inputs: Record<string, InputArtifact>, name: string): Promise<T[]> {
  const path = tablePath(inputs, name);
  return path ? (inputs[name] as TableInput).rows<T>() : [];
}

/** The Parquet file of a table input; undefined when the pipeline does not wire it. */
function tablePath(inputs: Record<string, InputArtifact>, name: string): string | undefined {
  const input = inputs[name];
  if (!input) return undefined;
  if (input.kind !== 'table') throw new StageFailure('catalog', `input ${name} must be a table`);
  return input.path;
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
    const sources: CatalogSources = Object.fromEntries(
      (['rendered', 'planned', 'imported', 'imported_prompts'] as const).flatMap((name) => {
        const path = tablePath(ctx.inputs, name);
        return path ? [[name, path]] : [];
      }),
    );
    const pruned = prunedImageIds(await readPruneRecords(ctx.dataDir));
    const kept = await keptImports(ctx, sources, pruned);
    const generated = await generatedCount(ctx, sources, pruned);
    ctx.log(`${generated} generated and ${kept.images.length} imported images${pruned.size ? `; ${pruned.size} pruned left out` : ''}`);
    const axes = distinctAlternatives([
      ...(await rowsOf<AxisAlternativesRow>(ctx.inputs, 'planned_axes')),
      ...(await rowsOf<AxisAlternativesRow>(ctx.inputs, 'imported_axes')),
    ]);
    return {
      images: catalogImages(ctx, sources, pruned, kept.images),
      prompts: catalogPrompts(ctx, sources, kept.prompts),
      axes,
      variation_values: variationValues(axes),
    };
  },
});
