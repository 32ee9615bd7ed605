// What a stage's params schema says about param paths: which ones it reads at all (to
// refuse a --set nothing reads) and which are marked operational or derivation (to keep
// them out of fingerprints and memo keys). Only zod's public `_zod.def` is read.
import type { z } from 'zod';
import { roleOf, type ParamRole } from './stage.js';
import { getPath, setPath, type ParamTree } from './params.js';

interface SchemaDef {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  in?: z.ZodType;
  options?: z.ZodType[];
  valueType?: z.ZodType;
}

const defOf = (schema: z.ZodType) => schema._zod.def as unknown as SchemaDef;

/** The schemas a value of `schema` may be read with, through defaults, optionals, pipes and unions. */
function alternatives(schema: z.ZodType): z.ZodType[] {
  const def = defOf(schema);
  if (def.innerType) return [schema, ...alternatives(def.innerType)];
  if (def.type === 'pipe' && def.in) return [schema, ...alternatives(def.in)];
  if (def.type === 'union' && def.options) return [schema, ...def.options.flatMap(alternatives)];
  return [schema];
}

function roleIn(schemas: z.ZodType[]): ParamRole | undefined {
  for (const s of schemas) {
    const role = roleOf(s);
    if (role) return role;
  }
  return undefined;
}

/** Dotted paths of the marked params, relative to the schema (records and arrays are not looked into). */
export function paramRoles(schema: z.ZodType, prefix = ''): Map<string, ParamRole> {
  const roles = new Map<string, ParamRole>();
  const schemas = alternatives(schema);
  const role = roleIn(schemas);
  if (role && prefix) return roles.set(prefix, role);
  for (const s of schemas) {
    for (const [key, child] of Object.entries(defOf(s).shape ?? {})) {
      for (const [path, r] of paramRoles(child, prefix ? `${prefix}.${key}` : key)) roles.set(path, r);
    }
  }
  return roles;
}

/**
 * Whether the schema reads `path`: an object key at every level, or anything under a
 * record, a free-form value or a loose object.
 */
export function readsPath(schema: z.ZodType, path: string[]): boolean {
  if (path.length === 0) return true;
  const [head, ...rest] = path as [string, ...string[]];
  return alternatives(schema).some((s) => {
    const def = defOf(s);
    if (def.type === 'unknown' || def.type === 'any') return true;
    if (def.type === 'record') return def.valueType ? readsPath(def.valueType, rest) : true;
    if (def.type === 'object') {
      const child = def.shape?.[head];
      return child ? readsPath(child, rest) : (def as { catchall?: unknown }).catchall !== undefined;
    }
    return false;
  });
}

/** Every object-key path the schema names, for "did you mean". */
export function knownPaths(schema: z.ZodType, prefix = ''): string[] {
  const paths: string[] = [];
  for (const s of alternatives(schema)) {
    for (const [key, child] of Object.entries(defOf(s).shape ?? {})) {
      const path = prefix ? `${prefix}.${key}` : key;
      paths.push(path, ...knownPaths(child, path));
    }
  }
  return [...new Set(paths)];
}

/** A copy of the params tree without the given dotted paths. */
export function withoutPaths(tree: ParamTree, paths: Iterable<string>): ParamTree {
  const copy = structuredClone(tree);
  for (const path of paths) {
    const parts = path.split('.');
    const parent = parts.length === 1 ? copy : getPath(copy, parts.slice(0, -1).join('.'));
    if (parent && typeof parent === 'object') delete (parent as Record<string, unknown>)[parts[parts.length - 1]!];
  }
  return copy;
}

/** Only the given dotted paths of a params tree, nested as they were. */
export function onlyPaths(tree: ParamTree, paths: Iterable<string>): ParamTree {
  const out: ParamTree = {};
  for (const path of paths) {
    const value = getPath(tree, path);
    if (value !== undefined) setPath(out, path, structuredClone(value));
  }
  return out;
}

/** Levenshtein distance, for suggesting the param a mistyped path meant. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** The closest of `candidates` to `path`, when it is close enough to be the one meant. */
export function closestPath(path: string, candidates: string[]): string | undefined {
  let best: { path: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(path, candidate);
    if (!best || distance < best.distance) best = { path: candidate, distance };
  }
  return best && best.distance <= Math.max(2, Math.floor(path.length / 4)) ? best.path : undefined;
}

/** A stage as far as its params go: the paths pipeline.yaml lets it read, and its schema if it has one. */
export interface ParamReader {
  paths: string[];
  schema?: z.ZodType;
}

function leafPaths(tree: unknown, prefix = ''): string[] {
  if (tree === null || typeof tree !== 'object' || Array.isArray(tree)) return prefix ? [prefix] : [];
  return Object.entries(tree).flatMap(([k, v]) => [prefix ? `${prefix}.${k}` : k, ...leafPaths(v, prefix ? `${prefix}.${k}` : k)]);
}

/**
 * The first of the override paths that pipeline.yaml's params do not hold and no stage
 * reads, with the known path it most likely meant. A stage without a schema (a cmd stage)
 * reads everything under the paths it declares.
 */
export function unknownParamPath(paths: string[], params: ParamTree, readers: ParamReader[]): { path: string; suggestion?: string } | undefined {
  const reads = (path: string) =>
    getPath(params, path) !== undefined ||
    readers.some((r) => r.paths.some((declared) => {
      if (path !== declared && !path.startsWith(`${declared}.`)) return false;
      return r.schema ? readsPath(r.schema, path.split('.')) : true;
    }));
  const unknown = paths.find((p) => !reads(p));
  if (unknown === undefined) return undefined;
  const known = [...leafPaths(params), ...readers.flatMap((r) => (r.schema ? knownPaths(r.schema) : r.paths))];
  return { path: unknown, suggestion: closestPath(unknown, [...new Set(known)]) };
}
