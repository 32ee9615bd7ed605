// Pruning moves images the user chose (by a SQL predicate over quality and scores) out
// of the session folders into data/trash/<batch>/, never deleting anything: the JSON
// record written before the first move says where every file came from, so restore
// works even if the state database is gone, and the `pruned` state table lets reports
// and SQL see what was taken out.
import { copyFile, mkdir, rename, rm, access } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../src/atomic.js';
import { InputError } from '../src/errors.js';
import { storedPath } from '../src/project.js';
import { pruneItem, pruneRecord, prunedRow } from '../schemas/tables.js';
import type { Sql } from '../src/stage.js';
import { readPruneRecords, trashDir } from '../stages/catalog/pruned.js';

export interface PruneContext {
  projectDir: string;
  dataDir: string;
  sql: Sql;
}

export { pruneItem, pruneRecord };

export type PruneItem = z.infer<typeof pruneItem>;
export type PruneRecord = z.infer<typeof pruneRecord>;

export interface PruneCandidate {
  image_id: string;
  prompt_id: string;
  /** as recorded: project-relative when inside the project */
  file: string;
  /** the user's own file (ingest): recorded, left where it is, and left out of the tables */
  imported: boolean;
}

const exists = (path: string) => access(path).then(() => true, () => false);
const trashRoot = (ctx: PruneContext) => trashDir(ctx.dataDir);
const inProject = (ctx: PruneContext, file: string) => (isAbsolute(file) ? file : join(ctx.projectDir, file));


/** One boolean expression: no statement separator, no parenthesis closing the WHERE it is pasted into. */
function checkPredicate(where: string): void {
  const expected = 'expected one SQL predicate, e.g. "quality.blurred OR scores.p_target < 0.1"';
  const code = where.replace(/'(?:[^']|'')*'|"(?:[^"]|"")*"/g, "''");
  if (!code.trim()) throw new InputError(expected, { field: '--where' });
  if (/;|--|\/\*/.test(code)) throw new InputError(`${expected}, without ; or comments`, { field: '--where' });
  let depth = 0;
  for (const c of code) {
    depth += c === '(' ? 1 : c === ')' ? -1 : 0;
    if (depth < 0) break;
  }
  if (depth !== 0) throw new InputError(`${expected}, with balanced parentheses`, { field: '--where' });
}

/** Images whose session copy exists and matches `where`, a predicate over images, quality and scores. */
export async function planPrune(ctx: PruneContext, where: string): Promise<PruneCandidate[]> {
  checkPredicate(where);
  const tables = new Set((await ctx.sql('SELECT table_name FROM information_schema.tables')).map((r) => String(r.table_name)));
  for (const table of ['images', 'quality']) {
    if (!tables.has(table)) throw new InputError(`prune needs table ${table}, which does not exist yet: run \`pipeline run ${table === 'images' ? 'generate' : 'score'}\` first`, { field: '--where' });
  }
  const scores = tables.has('scores') ? 'LEFT JOIN scores ON scores.image_id = images.image_id AND scores.prompt_id = images.prompt_id' : '';
  const session = tables.has('sessions') ? 'LEFT JOIN sessions AS session ON session.session_dir = images.session_dir' : '';
  const origin = (await ctx.sql("SELECT 1 FROM information_schema.columns WHERE table_name = 'images' AND column_name = 'origin'")).length > 0;
  const query = `SELECT DISTINCT images.image_id, images.prompt_id, images.session_dir, images.filename, ${origin ? 'images.origin' : "'generated'"} AS origin
    FROM images
    LEFT JOIN quality ON quality.image_id = images.image_id AND quality.prompt_id = images.prompt_id
    ${scores}
    ${session}
    WHERE images.image_id <> '' AND images.filename <> '' AND (${where})
    ORDER BY images.session_dir, images.filename`;
  let rows: Record<string, unknown>[];
  try {
    rows = await ctx.sql(query);
  } catch (error) {
    const detail = (error as Error).message.split('\n')[0];
    throw new InputError(`expected a SQL predicate over columns of images, quality, scores and session (prefix a column with its table when two have it); DuckDB said: ${detail}`, { field: '--where' });
  }
  const candidates: PruneCandidate[] = [];
  for (const row of rows) {
    const file = storedPath(ctx.projectDir, join(String(row.session_dir), String(row.filename)));
    if (await exists(inProject(ctx, file))) candidates.push({ image_id: String(row.image_id), prompt_id: String(row.prompt_id), file, imported: row.origin === 'imported' });
  }
  return candidates;
}

/** rename, or copy-then-unlink across file systems: either way the file ends up in exactly one place. */
async function move(from: string, to: string): Promise<void> {
  await mkdir(dirname(to), { recursive: true });
  try {
    await rename(from, to);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
    await copyFile(from, to);
    await rm(from);
  }
}

const prunedColumns = Object.keys(prunedRow.shape);

async function ensurePrunedTable(ctx: PruneContext): Promise<void> {
  const columns = prunedColumns.map((c) => `${c} VARCHAR`).join(', ');
  await ctx.sql(`CREATE TABLE IF NOT EXISTS pruned (${columns})`);
}

async function recordInState(ctx: PruneContext, record: PruneRecord): Promise<void> {
  await ensurePrunedTable(ctx);
  const rows = record.items.map((item) =>
    prunedRow.parse({ ...item, batch: record.batch, predicate: record.where, pruned_at: record.created_at }),
  );
  const struct = JSON.stringify(Object.fromEntries(prunedColumns.map((c) => [c, 'VARCHAR'])));
  await ctx.sql(`INSERT INTO pruned SELECT unnest(from_json($rows, '[${struct}]'), recursive := true)`, { rows: JSON.stringify(rows) });
}

function batchName(now: Date): string {
  return now.toISOString().replace(/[:.]/g, '-');
}

/** Move the candidates into data/trash/<batch>/files/..., after writing the record that undoes it. */
export async function applyPrune(ctx: PruneContext, where: string, candidates: PruneCandidate[], now = new Date()): Promise<PruneRecord> {
  const batch = batchName(now);
  const batchDir = join(trashRoot(ctx), batch);
  // An imported image is the user's file: "never move a file you did not create". It stays
  // put with an empty trash_file, and catalog leaves it out of the tables until restored.
  const items = candidates.map(({ imported, ...c }) => ({
    ...c,
    trash_file: imported ? '' : join('files', isAbsolute(c.file) ? c.file.slice(1) : c.file),
    restored_at: null,
  }));
  const record = pruneRecord.parse({ batch, created_at: now.toISOString(), where, items });
  await writeFileAtomic(join(batchDir, 'record.json'), JSON.stringify(record, null, 2) + '\n');
  for (const item of record.items.filter((i) => i.trash_file !== '')) await move(inProject(ctx, item.file), join(batchDir, item.trash_file));
  await recordInState(ctx, record);
  return record;
}

export interface RestoreResult {
  restored: PruneItem[];
  /** left in the trash, with why */
  skipped: { item: PruneItem; reason: string }[];
}

/** Move pruned files back where they were (one batch, or all), never over a file that is there now. */
export async function restorePrune(ctx: PruneContext, batch?: string, now = new Date()): Promise<RestoreResult> {
  const records = (await readPruneRecords(ctx.dataDir)).filter((r) => !batch || r.batch === batch);
  if (batch && records.length === 0) throw new InputError(`expected the name of a folder under ${trashRoot(ctx)}`, { field: '--batch' });
  const result: RestoreResult = { restored: [], skipped: [] };
  await ensurePrunedTable(ctx);
  for (const record of records) {
    const batchDir = join(trashRoot(ctx), record.batch);
    const restoredNow: PruneItem[] = [];
    for (const item of record.items.filter((i) => i.restored_at === null)) {
      const from = join(batchDir, item.trash_file);
      const to = inProject(ctx, item.file);
      if (item.trash_file === '') {
        // Never moved (an imported file): restoring only lets catalog list it again.
        item.restored_at = now.toISOString();
        restoredNow.push(item);
      } else if (await exists(to)) result.skipped.push({ item, reason: `a file is already at ${item.file}` });
      else if (!(await exists(from))) result.skipped.push({ item, reason: `${from} is gone from the trash` });
      else {
        await move(from, to);
        item.restored_at = now.toISOString();
        restoredNow.push(item);
      }
    }
    if (restoredNow.length === 0) continue;
    await writeFileAtomic(join(batchDir, 'record.json'), JSON.stringify(record, null, 2) + '\n');
    await ctx.sql(`UPDATE pruned SET restored_at = $at WHERE batch = $batch AND file IN (SELECT unnest(from_json($files, '["VARCHAR"]')))`, {
      at: now.toISOString(),
      batch: record.batch,
      files: JSON.stringify(restoredNow.map((i) => i.file)),
    });
    result.restored.push(...restoredNow);
  }
  return result;
}
