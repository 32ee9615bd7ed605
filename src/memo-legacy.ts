// Results memoised before stages declared identities were keyed by (code + params, the
// whole item). Upgrading must not redo them: 40,000 images are days of GPU time. An item
// whose old result was made with the params and resources it has now takes that result
// over under its identity, once, as a memo row pointing at the same part.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { hashBytes, stableStringify } from './hash.js';
import { loadMemo, type MemoEntry } from './memo.js';
import { appendRows, type State } from './state.js';
import type { LockEntry } from './lockfile.js';
import { identityParams, type StageIdentity } from './fingerprint.js';
import type { StageNode } from './graph.js';
import type { Row } from './stage.js';

/**
 * The memo key the stage's last run used, when that run predates identities and what
 * defines results has not changed since: same params (operational ones aside, as then
 * recorded) and the resources it has now, with the same values.
 */
export function legacyMemoKey(entry: LockEntry | undefined, node: StageNode, identity: StageIdentity): string | undefined {
  if (!entry || entry.version !== undefined || node.loaded?.module.kind !== 'map') return undefined;
  const recorded = identityParams(node.loaded.module, entry.params).params;
  if (stableStringify(recorded) !== stableStringify(identity.params)) return undefined;
  const sameResources = Object.entries(identity.resources).every(([k, v]) => entry.resources[k] === v);
  return sameResources ? entry.memo : undefined;
}

/**
 * Per current item hash, the old result of an item with no row under the current memo
 * key, when that result's part holds every memo table.
 */
export async function legacyResults(options: {
  state: State;
  projectDir: string;
  stage: string;
  legacyKey: string;
  items: Row[];
  hashes: string[];
  tables: string[];
  memo: Map<string, MemoEntry>;
}): Promise<Map<string, MemoEntry>> {
  const old = await loadMemo(options.state, options.stage, options.legacyKey);
  const found = new Map<string, MemoEntry>();
  const complete = new Map<string, boolean>();
  options.items.forEach((item, i) => {
    if (options.memo.has(options.hashes[i]!)) return;
    const entry = old.get(hashBytes(JSON.stringify(item)));
    if (entry?.status !== 'ok') return;
    // A part written when the stage produced other tables cannot serve this one.
    if (!complete.has(entry.part)) complete.set(entry.part, options.tables.every((t) => existsSync(join(options.projectDir, `${entry.part}.${t}.parquet`))));
    if (complete.get(entry.part)) found.set(options.hashes[i]!, entry);
  });
  return found;
}

/** Record the old results under the current memo key, in one transaction. */
export async function adoptResults(options: {
  state: State;
  stage: string;
  memoKey: string;
  runId: string;
  adopted: Map<string, MemoEntry>;
  keyOf(hash: string): string;
  memo: Map<string, MemoEntry>;
}): Promise<void> {
  const { state, stage, memoKey, runId, adopted, memo } = options;
  if (adopted.size === 0) return;
  await state.transaction((c) =>
    appendRows(c, 'memo', [...adopted].map(([hash, e]) => [stage, memoKey, hash, options.keyOf(hash), e.part, e.outHash, 'ok', null, runId, e.objects])),
  );
  for (const [hash, entry] of adopted) memo.set(hash, entry);
}
