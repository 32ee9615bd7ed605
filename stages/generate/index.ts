// generate: one planned prompt becomes one image, item by item. The engine memoises
// each image under its render request (identity.ts), so a crash loses at most the batch
// in flight and a rerun renders only what is missing (failed items included), and a
// prompt file that gains a value renders only the new combinations. Images go to the
// object store by content hash and are hard-linked into sdgen-style session folders.
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { renderIdentities, renderObserved, renderResources } from './identity.js';
import { readMerged, readPromoted, withMerged, withPromoted } from './promoted.js';
import { defineMapStage, type InputArtifact, type ItemResult, type StageContext } from '../../src/stage.js';
import { storedPath } from '../../src/project.js';
import { imageRow, type ImageRow, type ManifestVariationsRow, type PromptRow } from '../../schemas/tables.js';
import { createBackend, generateParams, type Backend, type RenderResult } from './backend.js';
import { SessionBook, sessionSuffix } from './sessions.js';
import { closeFinishedSessions } from './session-close.js';
import { missingSessionFolders, restoreSessionFolders, type PlacedImage } from './session-restore.js';
import { readAlternatives } from '../resolve/alternatives.js';
import { plannedItems } from './items.js';

const params = z.object({ generate: generateParams.prefault({}) });
type Params = z.infer<typeof params>;

interface State {
  backend: Backend;
  sessions: SessionBook;
  /** sessions with an image that failed in this run: marked aborted, not completed */
  failedSessions: Set<string>;
  closed: boolean;
}

/** Paths are stored relative to the project (storedPath): a moved project keeps its rows. */
function imageRowOf(row: PromptRow, r: RenderResult, backend: string, stored: { hash: string; path: string } | null, at: { dir: string; filename: string }, projectDir: string): ImageRow {
  return {
    image_id: stored?.hash ?? '',
    prompt_id: row.prompt_id,
    path: stored ? storedPath(projectDir, stored.path) : '',
    seed: r.seed,
    width: r.width,
    height: r.height,
    backend,
    endpoint: r.endpoint,
    model_name: r.modelName,
    model_hash: r.modelHash,
    loras: r.loras,
    gen_ms: Math.round(r.genMs * 1000) / 1000,
    status: r.status,
    error: r.error,
    rendered: r.rendered,
    session_dir: storedPath(projectDir, at.dir),
    filename: at.filename,
  };
}

async function generateOne(row: PromptRow, ctx: StageContext<Params>, state: State): Promise<ItemResult> {
  const r = await state.backend.render(row);
  if (!r.png) {
    state.failedSessions.add(sessionSuffix(row.session, row.theme, row.style));
    const dir = await state.sessions.folderOf(row);
    return { rows: { rendered: [imageRowOf(row, r, state.backend.name, null, { dir, filename: '' }, ctx.projectDir)] }, error: r.error ?? 'no image' };
  }
  // A batch (batch_size x n_iter) is one request and one item: its images are one row each,
  // in batch order, so a rerun replays exactly these rows and renders none of them again.
  const rendered: ImageRow[] = [];
  for (const image of [r, ...r.rest]) {
    const stored = await ctx.store.put(image.png!, 'png');
    const at = await state.sessions.add(row, stored.path, image.seed);
    rendered.push(imageRowOf(row, image, state.backend.name, stored, at, ctx.projectDir));
  }
  return { rows: { rendered } };
}

/** Input `manifests` (resolve's planned_manifests) by id: the session manifests' value lists. None when the stage has no such input. */
async function readManifestVariations(input: InputArtifact | undefined): Promise<Map<string, Record<string, unknown>>> {
  if (input?.kind !== 'table') return new Map();
  return new Map((await input.rows<ManifestVariationsRow>()).map((r) => [r.manifest_variations, r.variations]));
}

const stage = defineMapStage<Params, PromptRow, State>({
  description: 'render each planned prompt to a PNG (synthetic demo backend or A1111 servers)',
  // Bump when a change here or in the backends changes the images rendered for a request.
  version: '1',
  params,
  // `rendered`: catalog adds the imported images to make `images`.
  // Where a run linked the image for people (a dated session folder, a free index there) and how long it took are facts of that run, not of the image.
  outputs: { rendered: { kind: 'table', schema: imageRow, runFacts: ['gen_ms', 'session_dir', 'filename'], key: ['prompt_id', 'seed'] } },
  over: 'prompts',
  items: plannedItems,
  key: 'prompt_id',
  batchSize: ({ generate: g }) => (g.backend === 'a1111' ? Math.max(4, g.endpoints.length * g.concurrency * 2) : 16),
  concurrency: ({ generate: g }) => (g.backend === 'a1111' ? 2 : 4),
  resources: renderResources,
  resourceLabels: { backend: 'the generate backend', renderer: 'the demo renderer', model: 'the pinned checkpoint (generate.model)', merged_checkpoint: 'the checkpoint the loop merged (loop.promote merge)', checkpoint: 'the A1111 checkpoint', promoted_loras: 'the promoted LoRAs' },
  observe: renderObserved,
  // LoRAs are in each item's identity by content: one retrained under the same name re-renders.
  identity: renderIdentities,
  async setup(ctx) {
    const g = withMerged(withPromoted(ctx.params.generate, await readPromoted(ctx.sql)), await readMerged(ctx.sql));
    const alternatives = await readAlternatives(ctx.inputs);
    const backend = await createBackend(g, { projectDir: ctx.projectDir, warn: (m) => ctx.warn(m), alternatives: (id) => alternatives.get(id) });
    const root = isAbsolute(g.sessions_dir) ? g.sessions_dir : resolve(ctx.projectDir, g.sessions_dir);
    const manifests = await readManifestVariations(ctx.inputs.manifests);
    return { backend, sessions: new SessionBook(root, backend.checkpoint, ctx.dataDir, (id) => manifests.get(id), (path) => ctx.store.damagedLink(path)), failedSessions: new Set(), closed: false };
  },
  async mapBatch(items, ctx, state) {
    return Promise.all(items.map((row) => generateOne(row, ctx, state)));
  },
  // An image's result is committed only once the session manifest lists it.
  beforeCommit: (state) => state.sessions.flush(),
  missing: (ctx, outputs) => missingSessionFolders(ctx, outputs.rendered),
  async finish(ctx, state, outputs) {
    if (state) {
      await state.sessions.close('completed', state.failedSessions);
      state.closed = true;
    }
    // Rows are what a deleted folder is put back from; a caller that assembled no table has
    // none to offer. Only the columns that place an image leave DuckDB.
    const rows: PlacedImage[] = [];
    const placed = 'SELECT image_id, path, session_dir, filename, status FROM read_parquet($rendered)';
    if (outputs.rendered) for await (const chunk of ctx.sqlChunks<PlacedImage>(placed, { rendered: outputs.rendered.path })) for (const row of chunk) rows.push(row);
    const restored = await restoreSessionFolders(ctx, rows);
    if (restored.length > 0) ctx.log(`put back ${restored.length} session folder(s) from the store: ${restored.join(', ')}`);
    // Nothing ran: a run killed after its last image committed left its sessions ongoing.
    if (state) return;
    const closed = await closeFinishedSessions(ctx.projectDir, ctx.dataDir, rows);
    if (closed.length > 0) ctx.log(`closed ${closed.length} session folder(s) a killed run left ongoing: ${closed.join(', ')}`);
  },
  async teardown(state) {
    if (!state) return;
    if (!state.closed) await state.sessions.close('aborted');
    await state.backend.close();
  },
});

export default stage;
export { createBackend };
