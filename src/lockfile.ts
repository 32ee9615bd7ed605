// pipeline.lock: the human-readable record of what each stage last produced and from
// what (like dvc.lock). Read at every status; rewritten atomically after each stage,
// which is the instant a stage's new outputs become current (generations.ts). A copy
// under data/.sdloop stands in when the lock itself is damaged.
import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from './atomic.js';
import { requireCommonJs } from './commonjs.js';

const { stringify, parse } = requireCommonJs('yaml') as typeof import('yaml');

export const outputRecordSchema = z.object({
  kind: z.enum(['table', 'path']),
  path: z.string(),
  hash: z.string(),
  rows: z.number().int().optional(),
  /** a table's Parquet file as written (its bytes' hash): what a skip checks the file against */
  file: z.string().optional(),
});

export const lockEntrySchema = z.object({
  fingerprint: z.string(),
  code: z.string(),
  /** the stage's declared version (null: none) */
  version: z.string().nullable().optional(),
  /** what item results are memoised under (version or code, params, resources) */
  memo: z.string(),
  params: z.record(z.string(), z.unknown()),
  resources: z.record(z.string(), z.string()),
  observed: z.record(z.string(), z.string()).optional(),
  inputs: z.record(z.string(), z.string()),
  deps: z.object({ files: z.number().int(), hash: z.string() }),
  outs: z.record(z.string(), outputRecordSchema),
  finished_at: z.string(),
  duration_s: z.number(),
  items: z.object({ total: z.number().int(), run: z.number().int(), reused: z.number().int(), failed: z.number().int() }).optional(),
});

export const lockFileSchema = z.object({
  schema: z.literal(1),
  stages: z.record(z.string(), lockEntrySchema),
});

export type LockEntry = z.infer<typeof lockEntrySchema>;
export type OutputRecord = z.infer<typeof outputRecordSchema>;
export type LockFile = z.infer<typeof lockFileSchema>;

const empty = (): LockFile => ({ schema: 1, stages: {} });

/** The copy of pipeline.lock the engine keeps beside its state, written with every lock. */
export const lockCopyPath = (lockPath: string) => join(dirname(lockPath), 'data', '.sdloop', 'lock.json');

/** Damage already told about, by path: every command reads the lock several times. */
const warned = new Set<string>();

function warnOnce(path: string, message: string): void {
  if (warned.has(path)) return;
  warned.add(path);
  process.stderr.write(`warning: ${message}\n`);
}

function fromCopy(lockPath: string): LockFile | undefined {
  try {
    const parsed = lockFileSchema.safeParse(JSON.parse(readFileSync(lockCopyPath(lockPath), 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export function readLockFile(path: string): LockFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return empty();
  }
  let value: unknown;
  try {
    value = parse(text);
  } catch (error) {
    // A damaged lock must not stop every command: the copy is the same record, else everything reruns.
    const copy = fromCopy(path);
    const where = relative(dirname(path), lockCopyPath(path));
    warnOnce(path, `${path}: not valid YAML (${(error as Error).message.split('\n')[0]}); ${copy ? `using its copy ${where}` : 'no usable copy: every stage will run again'}; the next run rewrites it`);
    return copy ?? empty();
  }
  const parsed = lockFileSchema.safeParse(value);
  // A lock from another version or edited by hand only costs a rebuild, never a wrong skip.
  return parsed.success ? parsed.data : empty();
}

export async function writeLockFile(path: string, lock: LockFile): Promise<void> {
  const sorted: LockFile = { schema: 1, stages: Object.fromEntries(Object.entries(lock.stages).sort(([a], [b]) => a.localeCompare(b))) };
  await writeFileAtomic(lockCopyPath(path), JSON.stringify(sorted));
  await writeFileAtomic(path, `# Written by \`pipeline run\`: what each stage last produced, and from what.\n${stringify(sorted)}`);
  warned.delete(path);
}
