// The review app's writes: labels (into the very journal `pipeline label` appends to and
// classify trains from), favourites and session notes. Each is checked against the
// tables first, so a typo never reaches training.
import { openJournal } from '../../src/journal.js';
import { labelsJournal } from '../../stages/classify/human-labels.js';
import { favouriteRow, sessionNoteRow, type LabelRow, type SessionNoteRow } from '../../schemas/tables.js';
import type { LabelRequest } from '../../schemas/web.js';
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

export async function recordFavourite(catalog: Catalog, dataDir: string, imageId: string, favourite: boolean, now = new Date()) {
  const [image] = await catalog.sql('SELECT image_id FROM web_images WHERE image_id = $id', { id: imageId });
  if (!image) throw new ReviewError(404, `no image ${imageId}`);
  const row = { image_id: imageId, favourite, created_at: now.toISOString() };
  await openJournal(dataDir, 'favourites', favouriteRow).append([row]);
  return row;
}

const notesJournal = (dataDir: string) => openJournal(dataDir, 'session_notes', sessionNoteRow);

async function latestNotes(dataDir: string): Promise<Map<string, SessionNoteRow>> {
  return new Map((await notesJournal(dataDir).read()).map((row) => [row.session, row]));
}

export async function listSessions(catalog: Catalog, dataDir: string) {
  const rows = await catalog.sql<{ session: string }>(
    `SELECT p.session, count(*)::INTEGER AS planned,
       count(*) FILTER (WHERE i.status = 'ok')::INTEGER AS made,
       count(*) FILTER (WHERE i.status = 'failed')::INTEGER AS failed,
       count(*) FILTER (WHERE i.status = 'blank')::INTEGER AS blank,
       (SELECT avg(w.match_score) FROM web_images w WHERE w.session = p.session) AS mean_match
     FROM prompts p LEFT JOIN images i USING (prompt_id) GROUP BY p.session ORDER BY p.session`,
  );
  const notes = await latestNotes(dataDir);
  return rows.map((row) => {
    const note = notes.get(row.session);
    return { ...row, rating: note?.rating ?? null, flags: note?.flags ?? [], note: note?.note ?? '' };
  });
}

/** A change to a session's review record: the fields given replace the latest ones, and the whole record is appended. */
export async function patchSession(catalog: Catalog, dataDir: string, session: string, patch: Partial<Pick<SessionNoteRow, 'rating' | 'flags' | 'note'>>, now = new Date()) {
  const [known] = await catalog.sql('SELECT session FROM prompts WHERE session = $session LIMIT 1', { session });
  if (!known) throw new ReviewError(404, `no session '${session}'`);
  const before = (await latestNotes(dataDir)).get(session) ?? { rating: null, flags: [], note: '' };
  const row: SessionNoteRow = {
    session,
    rating: patch.rating === undefined ? before.rating : patch.rating,
    flags: patch.flags ?? before.flags,
    note: patch.note ?? before.note,
    created_at: now.toISOString(),
  };
  await notesJournal(dataDir).append([row]);
  return row;
}
