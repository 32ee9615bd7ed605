// Why a stage is stale, in words a user can act on: which param changed from what to
// what, which input or files changed and by how much, code, missing outputs, failures.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { hashPath } from './execute.js';
import type { StatCache } from './stat-cache.js';
import { stableStringify } from './hash.js';
import type { State } from './state.js';
import type { LockEntry } from './lockfile.js';
import { recordedDepHashes, type StageIdentity } from './fingerprint.js';
import { storedObjectProblems } from './memo-objects.js';
import type { Project } from './project.js';

function flatten(tree: unknown, prefix = '', out = new Map<string, string>()): Map<string, string> {
  if (tree !== null && typeof tree === 'object' && !Array.isArray(tree) && Object.keys(tree).length > 0) {
    for (const [k, v] of Object.entries(tree)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (prefix) {
    out.set(prefix, stableStringify(tree) ?? 'undefined');
  }
  return out;
}

export function paramChanges(before: unknown, after: unknown): string[] {
  const a = flatten(before);
  const b = flatten(after);
  const changes: string[] = [];
  for (const key of [...new Set([...a.keys(), ...b.keys()])].sort()) {
    const was = a.get(key);
    const now = b.get(key);
    if (was === now) continue;
    if (was === undefined) changes.push(`param ${key} added: ${now}`);
    else if (now === undefined) changes.push(`param ${key} removed (was ${was})`);
    else changes.push(`param ${key} changed: ${was} -> ${now}`);
  }
  return changes;
}

const listed = (paths: string[]) => `${paths.slice(0, 3).join(', ')}${paths.length > 3 ? `, ${paths.length - 3} more` : ''}`;

async function depChanges(state: State, stage: string, files: Map<string, string>): Promise<string> {
  const before = await recordedDepHashes(state, stage);
  const added = [...files.keys()].filter((f) => !before.has(f));
  const removed = [...before.keys()].filter((f) => !files.has(f));
  const modified = [...files].filter(([f, h]) => before.has(f) && before.get(f) !== h).map(([f]) => f);
  if (added.length + removed.length + modified.length === 0) return 'dependency fingerprint recorded differently by an older version: rechecking';
  const parts = [
    modified.length ? `${plural(modified.length, 'file')} changed (${listed(modified)})` : '',
    added.length ? `${plural(added.length, 'file')} added (${listed(added)})` : '',
    removed.length ? `${plural(removed.length, 'file')} removed (${listed(removed)})` : '',
  ];
  return `deps: ${parts.filter(Boolean).join(', ')}`;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
const isHash = (value: string) => /^[0-9a-f]{16,}$/i.test(value);

/** "models/sd_xl_base.safetensors [31e35c80fc]" -> "sd_xl_base": the name a person picked. */
function nameOf(value: string): string {
  const named = /^(.*?)\s*\[[0-9a-f]+\]$/i.exec(value);
  if (!named) return value;
  return named[1]!.replace(/^.*[\\/]/, '').replace(/\.(safetensors|ckpt|pt|bin)$/i, '');
}

/** A resource that changed, in words: its label and old -> new, leaving out what only a hash says. */
function resourceChange(label: string | undefined, key: string, was: string | undefined, now: string | undefined): string {
  const what = label ?? `resource ${key}`;
  if (was === undefined || now === undefined) return `${what} ${was === undefined ? `added (${nameOf(now!)})` : `removed (was ${nameOf(was)})`}`;
  if (isHash(was) && isHash(now)) return `${what} changed`;
  const [a, b] = [nameOf(was), nameOf(now)];
  // The same name with new content: only the hashes tell them apart.
  return a === b ? `${what} changed: ${was} -> ${now}` : `${what} changed (${a} -> ${b})`;
}

export interface ExplainInput {
  project: Project;
  state: State;
  stats: StatCache;
  stage: string;
  identity: StageIdentity;
  entry: LockEntry | undefined;
  /** for map stages: items without a finished result under the current memo key */
  itemsToRun?: { toRun: number; total: number };
  /** items are memoised: a code edit under an unchanged memo key reruns none */
  mapStage?: boolean;
  /** the stage's own words for a changed resource (StageCommon.describeResource) */
  describeResource?: (name: string, since: { finishedAt: string; value: string | undefined }) => Promise<string | undefined>;
}

/** A code edit or a version bump, told apart: only the second changes a map stage's items. */
function codeChange(input: ExplainInput, entry: LockEntry): string[] {
  const { identity, itemsToRun, stage } = input;
  const count = itemsToRun ? `: ${itemsToRun.toRun} items to rerun` : '';
  // Entries written before stages declared versions have no version field at all.
  if (entry.version === undefined) return [`recorded by an older sdloop, before stage identities${count}`];
  const was = entry.version;
  if (was !== identity.version) {
    return [`${stage} version ${was ?? 'none'} -> ${identity.version ?? 'none'}${count}`];
  }
  if (entry.code === identity.code) return [];
  return [input.mapStage && entry.memo === identity.memoKey ? 'code changed; results unaffected' : 'code changed'];
}

export async function explainStaleness(input: ExplainInput): Promise<string[]> {
  const { project, state, stage, identity, entry } = input;
  if (!entry) return ['never run'];
  const reasons = codeChange(input, entry);
  reasons.push(...paramChanges(entry.params, identity.params));
  const labels = project.graph.nodes.get(stage)?.loaded?.module.resourceLabels ?? {};
  for (const k of [...new Set([...Object.keys(entry.resources), ...Object.keys(identity.resources)])]) {
    if (entry.resources[k] === identity.resources[k]) continue;
    const words = await input.describeResource?.(k, { finishedAt: entry.finished_at, value: entry.resources[k] });
    reasons.push(words ?? resourceChange(labels[k], k, entry.resources[k], identity.resources[k]));
  }
  const observed = entry.observed ?? {};
  const describeObserved = project.graph.nodes.get(stage)?.loaded?.module.describeObserved;
  for (const k of [...new Set([...Object.keys(observed), ...Object.keys(identity.observed)])]) {
    if (observed[k] === identity.observed[k]) continue;
    reasons.push(describeObserved?.(k, observed[k], identity.observed[k]) ?? `${k} changed: ${observed[k] ?? 'none'} -> ${identity.observed[k] ?? 'none'}`);
  }
  for (const k of Object.keys(identity.inputs)) {
    if (entry.inputs[k] !== identity.inputs[k]) reasons.push(`input ${k} changed`);
  }
  if (entry.deps.hash !== identity.deps.hash) reasons.push(await depChanges(state, stage, identity.deps.files));
  const versionCounted = entry.version === undefined || entry.version !== identity.version;
  if (input.itemsToRun && reasons.length > 0 && !versionCounted) {
    const { toRun, total } = input.itemsToRun;
    if (entry.memo !== identity.memoKey) {
      // Items are memoised per (code, params, resources): a change back finds the old results again.
      reasons.push(toRun === 0 ? `items: all ${total} memoised by an earlier run with these settings` : `items: ${toRun} of ${total} to run with these settings`);
    } else {
      const removed = Math.max(0, (entry.items?.total ?? 0) - (total - toRun));
      reasons.push(`items: +${toRun} to run, -${removed} removed, ${total - toRun} reused`);
    }
  }
  reasons.push(...(await outputProblems(project.dir, input.stats, entry)));
  if (entry.items && entry.items.failed > 0) reasons.push(`${entry.items.failed} failed items to retry`);
  // A stage whose hits name no stored object (score's rows point at generate's) has none to check.
  if (input.mapStage && !(entry.memo === identity.memoKey && entry.items?.objects === 0)) {
    const objects = await storedObjectProblems(state, input.stats, project.dir, stage, identity.memoKey);
    if (objects.damaged.length > 0) reasons.push(`stored object${objects.damaged.length === 1 ? '' : 's'} ${listed(objects.damaged)} damaged (bytes no longer match ${objects.damaged.length === 1 ? 'its name' : 'their names'})`);
    if (objects.items > 0) reasons.push(`${objects.items} memoised items name stored objects that are gone or damaged; they will be made again`);
  }
  return reasons;
}

/**
 * Each recorded output checked against the hash it was recorded with, through the stat
 * cache (a stat per file when nothing moved): a file edited, truncated or deleted since
 * makes the stage run again, never a skip over wrong bytes.
 */
async function outputProblems(projectDir: string, stats: StatCache, entry: LockEntry): Promise<string[]> {
  const problems: string[] = [];
  for (const [name, out] of Object.entries(entry.outs)) {
    const path = resolve(projectDir, out.path);
    if (!existsSync(path)) {
      problems.push(`output ${name} missing (${out.path})`);
      continue;
    }
    const expected = out.kind === 'path' ? out.hash : out.file;
    // Locks written before tables recorded their file hash can only be checked for presence.
    if (expected === undefined) continue;
    const found = out.kind === 'path' ? await hashPath(path, stats) : (await stats.hashFiles([path]))[0];
    if (found !== expected) problems.push(`output ${name} changed since it was recorded (${out.path}): made again`);
  }
  return problems;
}
