// Params are one nested tree (pipeline.yaml `params:`); each stage reads a few dot paths
// of it, and only those values enter its fingerprint.
import { InputError, InputErrors } from './errors.js';
import { parseYaml } from './yaml-file.js';
import type { StageModule } from './stage.js';
import type { Locate } from './graph.js';


export type ParamTree = Record<string, unknown>;

/**
 * Names that reach Object.prototype through plain objects: `--set __proto__.x=1` would
 * otherwise give every object in the process an `x`. A param path never holds one.
 */
const PROTOTYPE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

export function getPath(tree: unknown, path: string): unknown {
  let node = tree;
  for (const part of path.split('.')) {
    // Own keys only: `constructor` is "in" every object.
    if (node === null || typeof node !== 'object' || !Object.hasOwn(node, part)) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

export function setPath(tree: ParamTree, path: string, value: unknown): void {
  const parts = path.split('.');
  const unsafe = parts.find((p) => PROTOTYPE_KEYS.has(p));
  if (unsafe) throw new InputError(`"${unsafe}" cannot be a param name (it would reach every object's prototype)`, { field: path });
  let node: Record<string, unknown> = tree;
  for (const part of parts.slice(0, -1)) {
    const next = Object.hasOwn(node, part) ? node[part] : undefined;
    if (next === null || typeof next !== 'object' || Array.isArray(next)) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts[parts.length - 1]!] = value;
}

/** `a.b.c=VALUE` with VALUE parsed as YAML, like DVC's -S. */
export function parseSetArg(arg: string): [string, unknown] {
  const eq = arg.indexOf('=');
  const path = arg.slice(0, eq).trim();
  if (eq <= 0 || !/^[A-Za-z_][\w-]*(\.[A-Za-z_][\w-]*)*$/.test(path)) {
    throw new InputError(`--set expects PATH=VALUE with a dotted param path, got "${arg}"`, { field: '--set' });
  }
  const unsafe = path.split('.').find((p) => PROTOTYPE_KEYS.has(p));
  if (unsafe) throw new InputError(`"${unsafe}" cannot be a param name (it would reach every object's prototype)`, { field: `--set ${arg}` });
  try {
    return [path, parseYaml(`--set ${path}`, arg.slice(eq + 1)).data];
  } catch (error) {
    // The argument is the place to name, not a file: the first problem says what is wrong.
    const first = error instanceof InputErrors ? error.errors[0]! : error instanceof InputError ? error : null;
    if (!first) throw error;
    throw new InputError(`the value is not valid YAML (${first.message.replace(/^YAML syntax error: /, '')})`, { field: `--set ${arg}` });
  }
}

export function applyOverrides(params: ParamTree, overrides: Record<string, unknown>): ParamTree {
  const copy = structuredClone(params);
  for (const [path, value] of Object.entries(overrides)) setPath(copy, path, value);
  return copy;
}

/** The subtree a stage sees: only its declared paths, nested as in the file. */
export function selectParams(params: ParamTree, paths: string[]): ParamTree {
  const selected: ParamTree = {};
  for (const path of paths) {
    const value = getPath(params, path);
    if (value !== undefined) setPath(selected, path, structuredClone(value));
  }
  return selected;
}

/** A stage's slice of the params, parsed by its schema; a bad value points at its line in pipeline.yaml. */
export function parseStageParams(locate: Locate, stage: string, module: StageModule, params: ParamTree): unknown {
  const result = module.params.safeParse(params);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const path = ['params', ...issue.path.filter((p): p is string | number => typeof p !== 'symbol')];
  throw new InputError(`${issue.message} (read by stage ${stage})`, locate(path));
}
