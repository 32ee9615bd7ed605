// The images `pipeline prune` took out, read from the records under data/trash/: the one
// place both catalog (which leaves them out of the tables) and the prune command read them.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { pruneRecord } from '../../schemas/tables.js';
import { hashValue } from '../../src/hash.js';
import { InputError } from '../../src/errors.js';

export type PruneRecord = z.infer<typeof pruneRecord>;

export const trashDir = (dataDir: string) => join(dataDir, 'trash');

/** A record edited by hand into something else is bad input naming the file, not a stack trace. */
function parseRecord(file: string, text: string): PruneRecord {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new InputError(`expected a prune record (JSON): ${(error as Error).message}`, { file });
  }
  const parsed = pruneRecord.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InputError(`expected a prune record: ${issue.message}`, { file, field: issue.path.join('.') });
  }
  return parsed.data;
}

/** Every batch's record.json, oldest batch first; a batch folder without one is skipped. */
export async function readPruneRecords(dataDir: string): Promise<PruneRecord[]> {
  const batches = (await readdir(trashDir(dataDir)).catch(() => [] as string[])).sort();
  const records: PruneRecord[] = [];
  for (const batch of batches) {
    const file = join(trashDir(dataDir), batch, 'record.json');
    const text = await readFile(file, 'utf8').catch(() => null);
    if (text !== null) records.push(parseRecord(file, text));
  }
  return records;
}

/** Image ids pruned and not restored, generated or imported alike. */
export function prunedImageIds(records: PruneRecord[]): Set<string> {
  const pruned = new Set<string>();
  for (const record of records) {
    for (const item of record.items) if (item.restored_at === null) pruned.add(item.image_id);
  }
  return pruned;
}

/**
 * The pruned set as catalog's observed state: `<count>:<hash of the sorted ids>`, so a
 * prune or a restore makes catalog stale, and the count lets status say it in words.
 */
export function prunedState(pruned: Set<string>): string {
  const ids = [...pruned].sort();
  return `${ids.length}:${hashValue(ids).slice(0, 16)}`;
}

const countOf = (state: string | undefined) => Number(state?.split(':')[0] ?? 0);
const images = (n: number) => `${n} image${n === 1 ? '' : 's'}`;

/** What changed in the pruned set since the last run, for `pipeline status`. */
export function describePrunedChange(was: string | undefined, now: string | undefined): string {
  const delta = countOf(now) - countOf(was);
  if (delta > 0) return `${images(delta)} pruned since the last run (${countOf(now)} pruned in all)`;
  if (delta < 0) return `${images(-delta)} restored since the last run (${countOf(now)} still pruned)`;
  return `the pruned images changed since the last run (${countOf(now)} pruned in all)`;
}
