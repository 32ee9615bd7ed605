// GET /api/sessions and PATCH /api/sessions/{name}: each session's counts, mean match, the
// sessions stage's verdict and the manifest's status beside the person's own review
// record (rating, flags, note), which lives in the journal `session_notes`.
import { openJournal } from '../../src/journal.js';
import { sessionNoteRow, type SessionNoteRow } from '../../schemas/tables.js';
import type { SessionQuery } from '../../schemas/web.js';
import type { Catalog } from '../catalog.js';
import { ReviewError } from './reviews.js';

export interface SessionView {
  session: string;
  planned: number;
  made: number;
  failed: number;
  blank: number;
  flagged: number;
  mean_match: number | null;
  /** the sessions stage's verdict (review when any folder of the session needs one); null before it ran */
  verdict: 'complete' | 'review' | null;
  /** the manifest's status for imported folders (ongoing, completed, aborted); generated ones are completed */
  status: string | null;
  rating: number | null;
  flags: string[];
  note: string;
}

const notesJournal = (dataDir: string) => openJournal(dataDir, 'session_notes', sessionNoteRow);

async function latestNotes(dataDir: string): Promise<Map<string, SessionNoteRow>> {
  return new Map((await notesJournal(dataDir).read()).map((row) => [row.session, row]));
}

/** Verdict and status per session name, from the tables the sessions and ingest stages wrote (when they ran). */
function judgedSql(catalog: Catalog): string {
  if (!catalog.has('sessions')) return `SELECT NULL::VARCHAR AS session, NULL::VARCHAR AS verdict, NULL::VARCHAR AS status, NULL::INTEGER AS flagged WHERE false`;
  const imported = catalog.has('imported_sessions');
  return `SELECT s.session, CASE WHEN bool_or(s.verdict = 'review') THEN 'review' ELSE 'complete' END AS verdict,
      ${imported ? `coalesce(string_agg(DISTINCT m.status, ', '), CASE WHEN bool_or(s.origin = 'generated') THEN 'completed' END)` : `'completed'`} AS status,
      sum(s.flagged)::INTEGER AS flagged
    FROM sessions s ${imported ? 'LEFT JOIN imported_sessions m USING (session_dir)' : ''} GROUP BY s.session`;
}

async function sessionRows(catalog: Catalog) {
  return catalog.sql<Omit<SessionView, 'rating' | 'flags' | 'note'>>(
    `WITH counts AS (
       SELECT p.session, count(*)::INTEGER AS planned,
         count(*) FILTER (WHERE i.status = 'ok')::INTEGER AS made,
         count(*) FILTER (WHERE i.status = 'failed')::INTEGER AS failed,
         count(*) FILTER (WHERE i.status = 'blank')::INTEGER AS blank
       FROM prompts p LEFT JOIN images i USING (prompt_id) GROUP BY p.session),
     matches AS (SELECT session, avg(match_score) AS mean_match, count(*) FILTER (WHERE flagged)::INTEGER AS flagged FROM web_images GROUP BY session),
     judged AS (${judgedSql(catalog)})
     SELECT c.*, coalesce(j.flagged, m.flagged, 0) AS flagged, m.mean_match, j.verdict, j.status
     FROM counts c LEFT JOIN matches m USING (session) LEFT JOIN judged j USING (session) ORDER BY c.session`,
  );
}

function matches(s: SessionView, q: SessionQuery): boolean {
  return (q.name === undefined || s.session.toLowerCase().includes(q.name.toLowerCase()))
    && (q.verdict === undefined || s.verdict === q.verdict)
    && (q.status === undefined || (s.status ?? '').split(', ').includes(q.status))
    && (q.flag === undefined || s.flags.includes(q.flag))
    && (q.min_rating === undefined || (s.rating ?? 0) >= q.min_rating);
}

/** Names ascending, numbers and ratings highest first unless asked otherwise; unknown values last; the name breaks ties. */
function compareBy(q: SessionQuery): (a: SessionView, b: SessionView) => number {
  const sign = (q.order ?? (q.sort === 'session' || q.sort === 'verdict' || q.sort === 'status' ? 'asc' : 'desc')) === 'asc' ? 1 : -1;
  return (a, b) => {
    const [x, y] = [a[q.sort], b[q.sort]];
    if (x !== y) {
      if (x === null) return 1;
      if (y === null) return -1;
      return (x < y ? -1 : 1) * sign;
    }
    return a.session.localeCompare(b.session);
  };
}

export async function listSessions(catalog: Catalog, dataDir: string, q: SessionQuery): Promise<SessionView[]> {
  const notes = await latestNotes(dataDir);
  const sessions = (await sessionRows(catalog)).map((row) => {
    const note = notes.get(row.session);
    return { ...row, rating: note?.rating ?? null, flags: note?.flags ?? [], note: note?.note ?? '' };
  });
  return sessions.filter((s) => matches(s, q)).sort(compareBy(q));
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
