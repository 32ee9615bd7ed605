// ingest: images that already exist (sdgen session folders in every manifest format,
// plain A1111/Forge output folders) become rows of the same shape generate's images take,
// with origin `imported`. Files are read in place and never written: an image is its
// content hash, so a moved session is the same images and a file seen twice is one.
// One item per folder, memoised by its files' stats: a rescan after adding a session
// reads only that session, and a no-op stats the folders and files and reads nothing.
// The import itself (PNG parsing, variation mapping, worker threads) is loaded only when
// a folder is to be read.
import { availableParallelism } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { hashValue } from '../../src/hash.js';
import { defineMapStage } from '../../src/stage.js';
import { storedPath } from '../../src/project.js';
import { axisAlternativesRow, catalogImageRow, catalogPromptRow, importedSessionRow } from '../../schemas/tables.js';
import type { FolderItem } from './folder.js';
import type { ImportPool } from './import-pool.js';
import { describeScan, expandRoots, scanFolders, type Root, type ScannedFolder } from './roots.js';
import { yamlFilesUnder } from './variation-files.js';

export const ingestParams = z.object({
  ingest: z.object({
    paths: z.union([z.string().transform((p) => [p]), z.array(z.string())]).default([])
      .describe('folders or globs of existing images (sdgen session folders, A1111 output folders); `~` is your home'),
    variations_dirs: z.array(z.string()).default(['data/variations'])
      .describe('where the variation files live that map manifest texts back to keys'),
    templates_dirs: z.array(z.string()).default(['data/prompts', 'data/templates', 'data/chunks', 'data/themes'])
      .describe('where the prompt, template, chunk and theme files live whose imports name the placeholder of each variation file (axis names for plain folders)'),
  }).prefault({}),
});
type Params = z.infer<typeof ingestParams>;

interface State {
  pool: ImportPool;
  folders: number;
  done: { folders: number; images: number; loggedAt: number };
}

/** The folders observe() last scanned, for the items() call that follows it in the same run. */
let lastScan: { roots: string; folders: ScannedFolder[] } | undefined;
const rootsKey = (roots: Root[], projectDir: string) => JSON.stringify([projectDir, roots]);

const absolute = (dirs: string[], projectDir: string) => dirs.map((d) => (isAbsolute(d) ? d : resolve(projectDir, d)));
const variationDirs = (p: Params, projectDir: string) => absolute(p.ingest.variations_dirs, projectDir);
const templateDirs = (p: Params, projectDir: string) => absolute(p.ingest.templates_dirs, projectDir);
/** The project files whose content decides every mapping. */
const mappingDirs = (p: Params, projectDir: string) => [...variationDirs(p, projectDir), ...templateDirs(p, projectDir)];

export default defineMapStage<Params, FolderItem, State>({
  description: 'read existing sdgen sessions and A1111 folders in place, keyed by content hash',
  // 3: variations name their alternatives in imported_axes instead of carrying them.
  version: '3',
  params: ingestParams,
  outputs: {
    imported: { kind: 'table', schema: catalogImageRow, key: ['prompt_id', 'seed'] },
    imported_prompts: { kind: 'table', schema: catalogPromptRow, key: ['prompt_id'] },
    imported_sessions: { kind: 'table', schema: importedSessionRow, key: ['session_dir'] },
    // Map stage outputs are every folder's rows: an axis several folders use is repeated here, and catalog keeps it once.
    imported_axes: { kind: 'table', schema: axisAlternativesRow },
  },
  over: 'folders',
  key: 'session_dir',
  deps: async (params, projectDir) => mappingDirs(params, projectDir),
  // The user's folders are watched by their stats, not their bytes: thousands of files
  // need no entries in the engine's stat cache, and their content is hashed once, by the import.
  async observe(ctx) {
    const roots = await expandRoots(ctx.params.ingest.paths, ctx.projectDir);
    const folders = scanFolders(roots, ctx.projectDir);
    lastScan = { roots: rootsKey(roots, ctx.projectDir), folders };
    return { folders: describeScan(folders) };
  },
  async items(ctx) {
    const roots = await expandRoots(ctx.params.ingest.paths, ctx.projectDir);
    // The scan the fingerprint was just taken from, once: the items are then exactly what it saw.
    const scanned = lastScan?.roots === rootsKey(roots, ctx.projectDir) ? lastScan.folders : scanFolders(roots, ctx.projectDir);
    lastScan = undefined;
    return scanned.map(({ stored, files }) => ({ session_dir: stored, files }));
  },
  resourceLabels: { variations: 'the variations and template files (ingest.variations_dirs, ingest.templates_dirs)' },
  // A changed variation or template file can change every mapping: it re-imports all folders.
  async resources(ctx) {
    const files = mappingDirs(ctx.params, ctx.projectDir).flatMap(yamlFilesUnder);
    const hashes = await Promise.all(files.map(async (f) => [storedPath(ctx.projectDir, f), await ctx.fileHash(f)]));
    return { variations: hashValue(hashes) };
  },
  batchSize: () => 4,
  // Enough folders in flight to keep every worker thread of the pool busy.
  concurrency: () => availableParallelism(),
  async setup(ctx, items) {
    const { ImportPool } = await import('./import-pool.js');
    const pool = ImportPool.open({ dirs: variationDirs(ctx.params, ctx.projectDir), templateDirs: templateDirs(ctx.params, ctx.projectDir), projectDir: ctx.projectDir }, items.length);
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
