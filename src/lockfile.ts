// pipeline.lock: the human-readable record of what each stage last produced and from
// what (like dvc.lock). Read at every status; rewritten atomically after each stage.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { writeFileAtomic } from './atomic.js';
import { requireCommonJs } from './commonjs.js';

const { stringify, parse } = requireCommonJs('yaml') as typeof import('yaml');

export const outputRecordSchema = z.object({
  kind: z.enum(['table', 'path']),
  path: z.string(),
  hash: z.string(),
  rows: z.number().int().optional(),
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

export function readLockFile(path: string): LockFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return { schema: 1, stages: {} };
  }
  const parsed = lockFileSchema.safeParse(parse(text));
  // A lock from another version or edited by hand only costs a rebuild, never a wrong skip.
  return parsed.success ? parsed.data : { schema: 1, stages: {} };
}

export async function writeLockFile(path: string, lock: LockFile): Promise<void> {
  const sorted: LockFile = { schema: 1, stages: Object.fromEntries(Object.entries(lock.stages).sort(([a], [b]) => a.localeCompare(b))) };
  await writeFileAtomic(path, `# Written by \`pipeline run\`: what each stage last produced, and from what.\n${stringify(sorted)}`);
}
