// Human verdicts from the journal `labels` (written by `pipeline label` and `pipeline
// serve`, also while a run holds the state). They win over zero-shot labels; a reject
// takes the image out of training and out of selection.
import type { Sql } from '../../src/stage.js';
import { hashValue } from '../../src/hash.js';
import { openJournal, type Journal } from '../../src/journal.js';
import { labelRow, type LabelRow } from '../../schemas/tables.js';

export interface HumanLabels {
  rejected: Set<string>;
  /** `${image_id}\u0000${axis}` -> value, the latest verdict for that pair */
  values: Map<string, string>;
}

export const labelKey = (imageId: string, axis: string) => `${imageId}\u0000${axis}`;

export const labelsJournal = (dataDir: string): Journal<LabelRow> => openJournal(dataDir, 'labels', labelRow);

const byTime = (a: LabelRow, b: LabelRow) => {
  const order = (r: LabelRow) => [r.created_at, r.image_id, r.axis ?? '', r.value ?? '', r.reject ? '1' : '0'];
  const [x, y] = [order(a), order(b)];
  const i = x.findIndex((v, k) => v !== y[k]);
  return i < 0 ? 0 : x[i]! < y[i]! ? -1 : 1;
};

/** Rows an older version kept in the state table `labels`, [] when there is none (the usual case). */
async function stateLabelRows(sql: Sql): Promise<LabelRow[]> {
  const found = await sql(`select table_name from information_schema.tables where table_name = 'labels' and table_schema = 'main' and table_type = 'BASE TABLE'`);
  if (!found.length) return [];
  const rows = await sql(`select image_id, axis, value, reject, cast(created_at as varchar) as created_at from main.labels`);
  return rows.map((row) => labelRow.parse(row));
}

/**
 * Every label row, oldest first (ties in a fixed order), or [] when nobody labelled yet.
 * With `sql` on the state, rows still in an older version's state table count too, so
 * the fingerprint is the same before and after they move into the journal.
 */
export async function readLabelRows(dataDir: string, sql?: Sql): Promise<LabelRow[]> {
  const rows = [...(await labelsJournal(dataDir).read()), ...(sql ? await stateLabelRows(sql) : [])];
  return rows.sort(byTime);
}

/**
 * Labels older versions kept in the state table `labels` move into the journal once, then
 * the table goes (it would hide the journal's view of the same name). classify does this
 * when it runs; `pipeline status`, which also asks for the fingerprint, writes nothing.
 */
export async function adoptStateLabels(sql: Sql, dataDir: string): Promise<number> {
  const rows = await stateLabelRows(sql);
  if (!rows.length) return 0;
  await labelsJournal(dataDir).append(rows);
  await sql('drop table main.labels');
  return rows.length;
}

export function humanLabelsOf(rows: LabelRow[]): HumanLabels {
  const rejected = new Set<string>();
  const values = new Map<string, string>();
  for (const row of rows) {
    if (row.reject) rejected.add(row.image_id);
    else if (row.axis !== null && row.value !== null) values.set(labelKey(row.image_id, row.axis), row.value);
  }
  return { rejected, values };
}

/** The fingerprint part that makes new human labels re-run classify. */
export async function labelsFingerprint(dataDir: string, sql: Sql): Promise<string> {
  return hashValue(await readLabelRows(dataDir, sql));
}

/** `pipeline status`'s reason when the labels changed: how many were added since classify last finished. */
export function labelsChange(rows: LabelRow[], finishedAt: string): string {
  const since = Date.parse(finishedAt);
  const added = rows.filter((row) => Date.parse(row.created_at) > since);
  if (!added.length) return 'labels changed since the last run (edited, removed, or added while it ran)';
  const rejects = added.filter((row) => row.reject).length;
  return `${added.length} new label${added.length === 1 ? '' : 's'} since the last run${rejects ? ` (${rejects} reject${rejects === 1 ? '' : 's'})` : ''}`;
}
