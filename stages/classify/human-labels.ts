// Human verdicts from the state table `labels` (written by `pipeline label`). They win
// over zero-shot labels; a reject takes the image out of training and out of selection.
import type { Sql } from '../../src/stage.js';
import { hashValue } from '../../src/hash.js';
import { labelRow, type LabelRow } from '../../schemas/tables.js';

export interface HumanLabels {
  rejected: Set<string>;
  /** `${image_id}\u0000${axis}` -> value, the latest verdict for that pair */
  values: Map<string, string>;
}

export const labelKey = (imageId: string, axis: string) => `${imageId}\u0000${axis}`;

async function labelsTableExists(sql: Sql): Promise<boolean> {
  const rows = await sql(`select table_name from information_schema.tables where table_name = 'labels'`);
  return rows.length > 0;
}

/** Every label row, oldest first (ties in a fixed order), or [] when nobody labelled yet. */
export async function readLabelRows(sql: Sql): Promise<LabelRow[]> {
  if (!(await labelsTableExists(sql))) return [];
  const rows = await sql(
    `select image_id, axis, value, reject, created_at from labels
     order by created_at, image_id, axis nulls first, value nulls first, reject`,
  );
  return rows.map((row) => labelRow.parse({ ...row, created_at: String(row.created_at) }));
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
export async function labelsFingerprint(sql: Sql): Promise<string> {
  return hashValue(await readLabelRows(sql));
}
