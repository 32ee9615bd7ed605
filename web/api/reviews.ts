// The review app's writes about images: labels (into the very journal `pipeline label`
// appends to and classify trains from), favourites and tags. Each is checked against the
// tables first, so a typo never reaches training.
import { openJournal } from '../../src/journal.js';
import { labelsJournal } from '../../stages/classify/human-labels.js';
import { favouriteRow, type LabelRow } from '../../schemas/tables.js';
import { tagRow, type LabelRequest, type TagRow } from '../../schemas/web.js';
import type { Catalog } from '../catalog.js';

/** A request the tables contradict (unknown image, axis or value): the API answers 404 or 400. */
export class ReviewError extends Error {
  constructor(readonly status: 400 | 404, message: string) {
    super(message);
  }
}

async function axisOf(catalog: Catalog, imageId: string, axis: string) {
  const [row] = await catalog.sql<{ value: string; known: string[] }>(
    `SELECT a.value, (SELECT list(DISTINCT v) FROM (SELECT value AS v FROM web_axes WHERE axis = $axis
                       UNION SELECT top_value FROM web_axes WHERE axis = $axis)) AS known
     FROM web_axes a WHERE a.image_id = $id AND a.axis = $axis`,
    { id: imageId, axis },
  );
  if (!row) throw new ReviewError(400, `image ${imageId} has no axis '${axis}'`);
  return row;
}

/** The label row a review request stands for: ok names the asked value, wrong the value shown. */
async function labelRowFor(catalog: Catalog, request: LabelRequest, createdAt: string): Promise<LabelRow> {
  const [image] = await catalog.sql('SELECT image_id FROM web_images WHERE image_id = $id', { id: request.image_id });
  if (!image) throw new ReviewError(404, `no image ${request.image_id}`);
  if (request.verdict === 'reject') return { image_id: request.image_id, axis: null, value: null, reject: true, created_at: createdAt };
  const axis = await axisOf(catalog, request.image_id, request.axis!);
  const value = request.verdict === 'ok' ? axis.value : request.value!;
  if (!axis.known.includes(value)) throw new ReviewError(400, `expected a value of ${request.axis} (${axis.known.sort().join(', ')}), got '${value}'`);
  return { image_id: request.image_id, axis: request.axis!, value, reject: false, created_at: createdAt };
}

export async function recordLabel(catalog: Catalog, dataDir: string, request: LabelRequest, now = new Date()): Promise<LabelRow> {
  const row = await labelRowFor(catalog, request, now.toISOString());
  await labelsJournal(dataDir).append([row]);
  return row;
}

async function knownImage(catalog: Catalog, imageId: string): Promise<void> {
  const [image] = await catalog.sql('SELECT image_id FROM web_images WHERE image_id = $id', { id: imageId });
  if (!image) throw new ReviewError(404, `no image ${imageId}`);
}

export async function recordFavourite(catalog: Catalog, dataDir: string, imageId: string, favourite: boolean, now = new Date()) {
  await knownImage(catalog, imageId);
  const row = { image_id: imageId, favourite, created_at: now.toISOString() };
  await openJournal(dataDir, 'favourites', favouriteRow).append([row]);
  return row;
}

/** Journal `tags`, beside labels in data/journals/: free-text tags people put on images. */
export const tagsJournal = (dataDir: string) => openJournal(dataDir, 'tags', tagRow);

export async function recordTag(catalog: Catalog, dataDir: string, request: { image_id: string; tag: string; on: boolean }, now = new Date()): Promise<TagRow> {
  await knownImage(catalog, request.image_id);
  const row = { image_id: request.image_id, tag: request.tag, on: request.on, created_at: now.toISOString() };
  await tagsJournal(dataDir).append([row]);
  return row;
}
