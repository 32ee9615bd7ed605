// A stage's identity: its code and declared version, the params it reads (less the
// operational ones), outside resources, and the hashes of its inputs and files. Same
// fingerprint, same outputs: the stage is skipped. Map stages also get a memo key: what
// their items' results are memoised under (see stage.ts for what enters it).
import { relative, resolve } from 'node:path';
import { existsSync, statSync } from 'node:fs';
import { hashBytes, hashValue } from './hash.js';
import { isGlobPattern } from './glob.js';
import { InputError } from './errors.js';
import { moduleClosure, codeHash } from './modules.js';
import { selectParams, type ParamTree } from './params.js';
import { paramRoles, withoutPaths } from './param-schema.js';
import type { StageContext, StageModule } from './stage.js';
import type { StatCache } from './stat-cache.js';
import type { GlobCache } from './glob-cache.js';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { State } from './state.js';
import { normalisePath, type StageNode } from './graph.js';
import type { Project } from './project.js';

export interface DepFiles {
  /** relative path -> content hash */
  files: Map<string, string>;
  hash: string;
}

export interface StageIdentity {
  /** hash of the stage module and the helpers it imports */
  code: string;
  /** the stage's declared version; null when it declares none */
  version: string | null;
  /** the params it reads, less the operational ones */
  params: ParamTree;
  /** the params its memo key holds: none when the stage's identity hook picks them, else those that are not derivation params */
  memoParams: ParamTree;
  resources: Record<string, string>;
  /** outside state the items' identities read: in the fingerprint, not the memo key */
  observed: Record<string, string>;
  inputs: Record<string, string>;
  deps: DepFiles;
  /** what item results are memoised under: version (or code), memo params, resources */
  memoKey: string;
  fingerprint: string;
}

/** Folders and globs a stage module names from its params, listed relative to the project (an absent one lists nothing). */
async function moduleDeps(project: Project, node: StageNode, params: unknown, globs: GlobCache): Promise<string[]> {
  const declared = (await node.loaded?.module.deps?.(params, project.dir)) ?? [];
  const files: string[] = [];
  for (const dep of declared) {
    const rel = relative(project.dir, resolve(project.dir, dep)) || '.';
    const pattern = isGlobPattern(rel) ? rel : `${rel.replace(/\/+$/, '')}/**`;
    files.push(...(await globs.glob(project.dir, pattern)));
  }
  return files;
}

/** Expand a stage's declared deps (files, folders, globs) to files, relative to the project. */
export async function expandDeps(project: Project, node: StageNode, producedPaths: Set<string>, globs: GlobCache, params?: unknown): Promise<string[]> {
  const files = new Set<string>(await moduleDeps(project, node, params, globs));
  for (const dep of node.config.deps) {
    const abs = resolve(project.dir, dep);
    const isDir = existsSync(abs) && statSync(abs).isDirectory();
    const pattern = isDir ? `${dep.replace(/\/+$/, '')}/**` : dep;
    const matched = isGlobPattern(pattern) || isDir ? await globs.glob(project.dir, pattern) : existsSync(abs) ? [dep] : [];
    if (matched.length === 0 && !producedPaths.has(normalisePath(dep))) {
      throw new InputError(`dep "${dep}" matches no file and no stage produces it`, project.locate(['stages', node.name, 'deps']));
    }
    for (const m of matched) files.add(m.startsWith('./') ? m.slice(2) : m);
  }
  // One declared dep is one sorted listing already.
  return node.config.deps.length === 1 && !node.loaded?.module.deps ? [...files] : [...files].sort();
}

/** Project-relative path made absolute: plain concatenation for already normal paths, which is most of them and far cheaper than resolve. */
function absoluteIn(dir: string, rel: string): string {
  return rel === '' || /^\/|\/\/|\/$|(^|\/)\.\.?(\/|$)/.test(rel) ? resolve(dir, rel) : `${dir}/${rel}`;
}

export async function hashDeps(project: Project, relPaths: string[], stats: StatCache): Promise<DepFiles> {
  const absolute = relPaths.map((p) => absoluteIn(project.dir, p));
  const hashes = await stats.hashFiles(absolute);
  const files = new Map<string, string>();
  relPaths.forEach((rel, i) => files.set(rel, hashes[i] ?? 'missing'));
  let listing = '';
  for (const [path, hash] of files) listing += `${path}\0${hash}\n`;
  return { files, hash: hashBytes(listing) };
}

/**
 * The files a stage last ran against, and which of them it reported reading on its own.
 * One row per stage holding JSON lists as text: 20,000 dep files are one string to write, not
 * 20,000 rows.
 */
export async function recordDeps(connection: DuckDBConnection, stage: string, deps: DepFiles, dynamic: Set<string>): Promise<void> {
  await connection.run('DELETE FROM stage_deps WHERE stage = $stage', { stage });
  await connection.run('INSERT INTO stage_deps VALUES ($stage, $files, $dynamic)', {
    stage,
    files: JSON.stringify([...deps.files]),
    dynamic: JSON.stringify([...deps.files.keys()].filter((p) => dynamic.has(p))),
  });
}

/** Path -> hash of the files the stage last ran against. */
export async function recordedDepHashes(state: State, stage: string): Promise<Map<string, string>> {
  const rows = await state.query<{ files: string }>('SELECT files FROM stage_deps WHERE stage = $stage', { stage });
  return new Map(rows[0] ? (JSON.parse(rows[0].files) as [string, string][]) : []);
}

export async function stageCode(node: StageNode, stats: StatCache): Promise<string> {
  if (!node.loaded) return hashValue({ cmd: node.config.cmd, outs: node.config.outs });
  return codeHash(moduleClosure(node.loaded.file), stats);
}

/** The params that can change outputs, and those of them that can change an item's result. */
export function identityParams(module: StageModule | undefined, raw: ParamTree): { params: ParamTree; memoParams: ParamTree } {
  if (!module) return { params: raw, memoParams: raw };
  const roles = paramRoles(module.params);
  const byRole = (role: string) => [...roles].filter(([, r]) => r === role).map(([path]) => path);
  const params = withoutPaths(raw, byRole('operational'));
  if (module.kind === 'map' && module.identity) return { params, memoParams: {} };
  // Only a derive step can honour a derivation param without running items.
  const derived = module.kind === 'map' && module.derive ? byRole('derivation') : [];
  return { params, memoParams: withoutPaths(params, derived) };
}

export function composeIdentity(parts: Omit<StageIdentity, 'memoKey' | 'fingerprint'>): StageIdentity {
  // A declared version speaks for the code's effect on results; without one, any edit counts.
  const memoKey = hashValue({ version: parts.version ?? parts.code, params: parts.memoParams, resources: parts.resources });
  const observed = Object.keys(parts.observed).length ? parts.observed : undefined;
  const fingerprint = hashValue({ code: parts.code, memoKey, params: parts.params, inputs: parts.inputs, deps: parts.deps.hash, observed });
  return { ...parts, memoKey, fingerprint };
}

/** A stage module's resources and observed outside state, asked once per status or run. */
export async function outsideState(module: StageModule | undefined, ctx: StageContext): Promise<{ resources: Record<string, string>; observed: Record<string, string> }> {
  const [resources, observed] = await Promise.all([module?.resources?.(ctx) ?? {}, module?.observe?.(ctx) ?? {}]);
  return { resources, observed };
}

export function stageParams(project: Project, node: StageNode): ParamTree {
  return selectParams(project.params, node.config.params);
}

export function relativeToProject(project: Project, path: string): string {
  return relative(project.dir, path);
}

/** The sorted union of a stage's declared dep files and those it read on its own. */
export function depsUnion(staticDeps: string[], dynamic: string[]): string[] {
  if (dynamic.length === 0) return staticDeps;
  const staticSet = new Set(staticDeps);
  return [...staticDeps, ...dynamic.filter((p) => !staticSet.has(p))].sort();
}

/**
 * Files the stage read on its own join its deps, and are what its fingerprint is checked
 * against next time. The declared deps are those listed before the run, whose hashes the
 * fingerprint already holds.
 */
export async function withDynamicDeps(options: {
  project: Project;
  stats: StatCache;
  state: State;
  stage: string;
  identity: StageIdentity;
  staticDeps: string[];
  dynamicDeps: Set<string>;
}): Promise<StageIdentity> {
  const { project, identity } = options;
  const dynamic = [...options.dynamicDeps].map((p) => relative(project.dir, p));
  const all = depsUnion(options.staticDeps, dynamic);
  // Usually the stage read what it read last time: the hashes taken before the run still hold.
  const unchanged = all.length === identity.deps.files.size && all.every((p) => identity.deps.files.has(p));
  const deps = unchanged ? identity.deps : await hashDeps(project, all, options.stats);
  await options.state.transaction((c) => recordDeps(c, options.stage, deps, new Set(dynamic)));
  return composeIdentity({ ...identity, deps });
}
