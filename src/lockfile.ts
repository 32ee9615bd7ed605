// pipeline.lock: the human-readable record of what each stage last produced and from
// what (like dvc.lock). Read at every status; rewritten atomically after each stage,
// which is the instant a stage's new outputs become current (generations.ts). A copy
// under data/.sdloop stands in when the lock itself is damaged.
import { readFileSync, statSync } from 'node:fs';
import { dirname, relative } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from './atomic.js';
import { requireCommonJs } from './commonjs.js';
import { hashBytes } from './hash.js';
import { projectPaths } from './project-dir.js';

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
  items: z.object({
    total: z.number().int(), run: z.number().int(), reused: z.number().int(), failed: z.number().int(),
    /** items whose rows name stored objects; absent in entries from before it was counted */
    objects: z.number().int().optional(),
  }).optional(),
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
export const lockCopyPath = (lockPath: string) => projectPaths(dirname(lockPath)).paths.lockCopy;

/** Damage already told about, by path: every command reads the lock several times. */
const warned = new Set<string>();

function warnOnce(path: string, message: string): void {
  if (warned.has(path)) return;
  warned.add(path);
  process.stderr.write(`warning: ${message}\n`);
}

/**
 * The copy as written: the lock, and the hash of the YAML text written with it (`yaml`),
 * which the schema strips. A copy from before that field is still a copy.
 */
function fromCopy(lockPath: string, yamlText?: string): LockFile | undefined {
  try {
    const raw = JSON.parse(readFileSync(lockCopyPath(lockPath), 'utf8')) as { yaml?: unknown };
    if (yamlText !== undefined && raw.yaml !== hashBytes(yamlText)) return undefined;
    const parsed = lockFileSchema.safeParse(raw);
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** Locks rebuilt from the state's records, by path, for where the lock and its copy are both unusable. */
const fromState = new Map<string, LockFile>();

type OwnLock = { lock: LockFile } | { missing: true } | { damaged: string } | { otherVersion: true };

/** The last parse of each lock, by path, with the stat it was read at: a command reads the lock many times. */
const lastParse = new Map<string, { stat: string; own: OwnLock }>();

/** What pipeline.lock itself holds (parsed again only when its size, mtime or inode moved). */
function readOwn(path: string): OwnLock {
  const s = statSync(path, { throwIfNoEntry: false });
  const stat = s ? `${s.size}:${s.mtimeMs}:${s.ino}` : 'none';
  const known = lastParse.get(path);
  if (known?.stat === stat) return structuredClone(known.own);
  const own = parseOwn(path);
  lastParse.set(path, { stat, own });
  return structuredClone(own);
}

function parseOwn(path: string): OwnLock {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return { missing: true };
  }
  // The lock as this engine wrote it is its copy: JSON reads in a fraction of a YAML parse.
  const written = fromCopy(path, text);
  if (written) return { lock: written };
  let value: unknown;
  try {
    value = parse(text);
  } catch (error) {
    return { damaged: (error as Error).message.split('\n')[0]! };
  }
  const parsed = lockFileSchema.safeParse(value);
  return parsed.success ? { lock: parsed.data } : { otherVersion: true };
}

/** Whether neither pipeline.lock nor its copy can be read: only the state's records can stand in. */
export function lockLost(path: string): boolean {
  const own = readOwn(path);
  return ('missing' in own || 'damaged' in own) && fromCopy(path) === undefined;
}

/** The lock rebuilt from the state, read wherever this process finds the lock and its copy unusable. */
export function useLockFromState(path: string, lock: LockFile): void {
  fromState.set(path, lock);
}

/** Whether this process reads the lock from the state's records (the next run writes it out). */
export const lockFromState = (path: string): boolean => fromState.has(path) && lockLost(path);

export function readLockFile(path: string): LockFile {
  const own = readOwn(path);
  if ('lock' in own) return own.lock;
  // A lock from another version or edited by hand only costs a rebuild, never a wrong skip.
  if ('otherVersion' in own) return empty();
  // A damaged or deleted lock must not make everything run again: the copy is the same record, else the state's.
  const copy = fromCopy(path);
  const stand = copy ?? fromState.get(path);
  const where = copy ? `using its copy ${relative(dirname(path), lockCopyPath(path))}` : stand ? "using the state's records of each stage's last committed run" : 'no usable copy: every stage will run again';
  if ('damaged' in own) warnOnce(path, `${path}: not valid YAML (${own.damaged}); ${where}; the next run rewrites it`);
  else if (stand) warnOnce(path, `${path} is missing; ${where}; the next run writes it again`);
  return stand ?? empty();
}

export async function writeLockFile(path: string, lock: LockFile): Promise<void> {
  const sorted: LockFile = { schema: 1, stages: Object.fromEntries(Object.entries(lock.stages).sort(([a], [b]) => a.localeCompare(b))) };
  const yamlText = `# Written by \`pipeline run\`: what each stage last produced, and from what.\n${stringify(sorted)}`;
  await writeFileAtomic(lockCopyPath(path), JSON.stringify({ ...sorted, yaml: hashBytes(yamlText) }));
  await writeFileAtomic(path, yamlText);
  warned.delete(path);
  fromState.delete(path);
}
