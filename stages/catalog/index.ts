// catalog: the one `images` and `prompts` tables every later stage, report and command
// reads: generate's rendered images and resolve's planned prompts, plus what ingest
// imported, told apart by `origin`. An image is its content hash, so one seen twice is
// one row (a generated copy wins over an imported one: sdloop knows its prompt for sure),
// and imported images `pipeline prune` took out are left out here, since their files
// stay where the user keeps them.
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { defineStage, type InputArtifact, type StageContext } from '../../src/stage.js';
import { StageFailure } from '../../src/errors.js';
import {
  catalogImageRow, catalogPromptRow, pruneRecord,
  type CatalogImageRow, type CatalogPromptRow, type ImageRow, type PromptRow,
} from '../../schemas/tables.js';

const params = z.object({});

async function rowsOf<T>(inputs: Record<string, InputArtifact>, name: string): Promise<T[]> {
  const input = inputs[name];
  if (!input) return [];
  if (input.kind !== 'table') throw new StageFailure('catalog', `input ${name} must be a table`);
  return input.rows<T>();
}

/** Imported images in an unrestored prune batch (their record has no trash file: nothing was moved). */
async function prunedImports(ctx: StageContext): Promise<Set<string>> {
  const trash = join(ctx.dataDir, 'trash');
  const batches = await readdir(trash).catch(() => [] as string[]);
  const pruned = new Set<string>();
  for (const batch of batches) {
    const text = await readFile(join(trash, batch, 'record.json'), 'utf8').catch(() => null);
    if (text === null) continue;
    for (const item of pruneRecord.parse(JSON.parse(text)).items) {
      if (item.trash_file === '' && item.restored_at === null) pruned.add(item.image_id);
    }
  }
  return pruned;
}

export function mergeCatalog(
  generated: { images: ImageRow[]; prompts: PromptRow[] },
  imported: { images: CatalogImageRow[]; prompts: CatalogPromptRow[] },
  excluded: Set<string>,
): { images: CatalogImageRow[]; prompts: CatalogPromptRow[] } {
  const images: CatalogImageRow[] = generated.images.map((i) => ({ ...i, origin: 'generated', annotated: false }));
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
  description: 'one images and one prompts table of both origins: generated and imported',
  version: '1',
  params,
  outputs: {
    images: { kind: 'table', schema: catalogImageRow },
    prompts: { kind: 'table', schema: catalogPromptRow },
  },
  // Prune records are how an imported image leaves the tables: a prune or restore reruns this cheap stage.
  async deps() {
    return ['data/trash'];
  },
  async run(ctx) {
    const [rendered, planned, images, prompts] = await Promise.all([
      rowsOf<ImageRow>(ctx.inputs, 'rendered'),
      rowsOf<PromptRow>(ctx.inputs, 'planned'),
      rowsOf<CatalogImageRow>(ctx.inputs, 'imported'),
      rowsOf<CatalogPromptRow>(ctx.inputs, 'imported_prompts'),
    ]);
    const merged = mergeCatalog({ images: rendered, prompts: planned }, { images, prompts }, await prunedImports(ctx));
    const imported = merged.images.filter((i) => i.origin === 'imported').length;
    ctx.log(`${merged.images.length - imported} generated and ${imported} imported images`);
    return merged;
  },
});
