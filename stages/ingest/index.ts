// ingest: images that already exist (sdgen session folders in every manifest format,
// plain A1111/Forge output folders) become rows of the same shape generate's images take,
// with origin `imported`. Files are read in place and never written: an image is its
// content hash, so a moved session is the same images and a file seen twice is one.
// One item per folder, memoised by the folder's file hashes: a rescan after adding a
// session reads only that session.
import { availableParallelism } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { hashValue } from '../../src/hash.js';
import { defineMapStage } from '../../src/stage.js';
import { storedPath } from '../../src/project.js';
import { axisAlternativesRow, catalogImageRow, catalogPromptRow, importedSessionRow } from '../../schemas/tables.js';
import type { FolderItem } from './folder.js';
import { ImportPool } from './import-pool.js';
import { expandRoots, folderItems, sessionFolders } from './roots.js';
import { VariationIndex } from './variation-keys.js';

export const ingestParams = z.object({
  ingest: z.object({
    paths: z.union([z.string().transform((p) => [p]), z.array(z.string())]).default([])
      .describe('folders or globs of existing images (sdgen session folders, A1111 output folders); `~` is your home'),
    variations_dirs: z.array(z.string()).default(['data/variations'])
      .describe('where the variation files live that map manifest texts back to keys'),
  }).prefault({}),
});
type Params = z.infer<typeof ingestParams>;

interface State {
  pool: ImportPool;
  folders: number;
  done: { folders: number; images: number; loggedAt: number };
}

const variationDirs = (p: Params, projectDir: string) => p.ingest.variations_dirs.map((d) => (isAbsolute(d) ? d : resolve(projectDir, d)));

export default defineMapStage<Params, FolderItem, State>({
  description: 'read existing sdgen sessions and A1111 folders in place, keyed by content hash',
  // 2: variations name their alternatives in imported_axes instead of carrying them.
  version: '2',
  params: ingestParams,
  outputs: {
    imported: { kind: 'table', schema: catalogImageRow },
    imported_prompts: { kind: 'table', schema: catalogPromptRow },
    imported_sessions: { kind: 'table', schema: importedSessionRow },
    // Map stage outputs are every folder's rows: an axis several folders use is repeated here, and catalog keeps it once.
    imported_axes: { kind: 'table', schema: axisAlternativesRow },
  },
  over: 'folders',
  key: 'session_dir',
  // The user's folders are fingerprinted like declared deps: a no-op stats them and reads nothing.
  async deps(params, projectDir) {
    return [...(await expandRoots(params.ingest.paths, projectDir)), ...variationDirs(params, projectDir)];
  },
  async items(ctx) {
    const roots = await expandRoots(ctx.params.ingest.paths, ctx.projectDir);
    return folderItems(sessionFolders(roots), (path) => ctx.fileHash(path));
  },
  // A changed variation file can change every mapping: it re-imports all folders (only reading PNG heads).
  async resources(ctx) {
    const index = new VariationIndex(variationDirs(ctx.params, ctx.projectDir), ctx.projectDir);
    const hashes = await Promise.all(index.files.map(async (f) => [storedPath(ctx.projectDir, f), await ctx.fileHash(f)]));
    return { variations: hashValue(hashes) };
  },
  batchSize: () => 4,
  // Enough folders in flight to keep every worker thread of the pool busy.
  concurrency: () => availableParallelism(),
  async setup(ctx, items) {
    const pool = ImportPool.open({ dirs: variationDirs(ctx.params, ctx.projectDir), projectDir: ctx.projectDir }, items.length);
    const index = pool.index();
    for (const problem of index.problems) ctx.warn(problem);
    ctx.log(`${items.length} folders on ${Math.max(1, pool.threads)} threads; texts mapped through ${index.files.length} variation files`);
    return { pool, folders: items.length, done: { folders: 0, images: 0, loggedAt: Date.now() } };
  },
  async teardown(state) {
    await state.pool.close();
  },
  async mapBatch(items, ctx, state) {
    return Promise.all(items.map(async (item) => {
      const { problems, ...rows } = await state.pool.import(item);
      for (const p of problems) ctx.warn(p);
      state.done.folders += 1;
      state.done.images += rows.imported.length;
      if (Date.now() - state.done.loggedAt > 2000 || state.done.folders === state.folders) {
        state.done.loggedAt = Date.now();
        ctx.log(`${state.done.folders}/${state.folders} folders, ${state.done.images} images`);
      }
      return { rows };
    }));
  },
});
