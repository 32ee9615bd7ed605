// Turning an import declaration into a variation source: one file, or a list of files and
// inline texts merged in order (sdgen's inline MD5 keys and collision prefixes).
import { createHash } from 'node:crypto';
import type { ImportValue, VariationValue } from '../../../schemas/templates.js';
import type { Declared } from './inherit.js';
import type { TemplateLoader } from './loader.js';
import { errorAt } from '../../../src/yaml-file.js';

/** The values one placeholder can take, keys in merge order. */
export interface VariationSource {
  name: string;
  keys: string[];
  values: VariationValue[];
  files: string[];
}

/** sdgen's rule: inline text starts with a quote or does not end in `.yaml`. */
export function isInlineText(item: string): boolean {
  return item.startsWith('"') || item.startsWith("'") || !item.endsWith('.yaml');
}

export function isChunkPath(item: string): boolean {
  return item.endsWith('.chunk.yaml');
}

/** sdgen's key for an inline item: MD5 of the raw item, quotes included, first 8 hex chars. */
export function inlineKey(raw: string): string {
  return createHash('md5').update(raw).digest('hex').slice(0, 8);
}

/** Whether `key` is sdgen's inline key of an item that rendered `text` (written bare or quoted). */
export function isInlineKeyOf(key: string, text: string): boolean {
  return /^[0-9a-f]{8}$/.test(key) && [text, `"${text}"`, `'${text}'`].some((raw) => inlineKey(raw) === key);
}

export function unquote(raw: string): string {
  const m = /^(["'])([\s\S]*)\1$/.exec(raw);
  return m ? m[2]! : raw;
}

/** `../variations/hair.yaml` -> `variations__hair`: the prefix that renames a colliding key. */
export function collisionPrefix(path: string): string {
  return path.replace(/^\.\.\//, '').replace(/^\.\//, '').replace(/\.yaml$/, '').replaceAll('/', '__').replaceAll('.', '_');
}

/** Chunk imports and namespaces are not variation sources. */
export function isVariationImport(value: ImportValue): boolean {
  if (typeof value === 'string') return !isChunkPath(value);
  return Array.isArray(value);
}

/**
 * sdgen V1 read `.txt` variation files. By the V2.0 rule such a path is inline text, which
 * would silently render the file name; when that file exists, say what to write instead.
 */
function rejectOldVariationsFile(loader: TemplateLoader, item: string, decl: Declared<ImportValue>, field: (string | number)[]): void {
  if (!/\.(txt|yml)$/.test(item) || /^["']/.test(item)) return;
  const path = loader.findPath(item, decl.file);
  if (path) {
    throw errorAt(decl.file, field, `${item} is an old-format variations file (sdgen V1 .txt / .yml); V2.0 imports YAML mappings: rename it to .yaml with lines \`Key: value\``);
  }
}

export function loadSource(loader: TemplateLoader, name: string, decl: Declared<ImportValue>): VariationSource {
  const source: VariationSource = { name, keys: [], values: [], files: [] };
  const index = new Map<string, number>();
  const add = (key: string, value: VariationValue) => {
    const at = index.get(key);
    if (at !== undefined) source.values[at] = value;
    else {
      index.set(key, source.keys.length);
      source.keys.push(key);
      source.values.push(value);
    }
  };
  const items = typeof decl.value === 'string' ? [decl.value] : Array.isArray(decl.value) ? decl.value : null;
  if (!items) throw errorAt(decl.file, decl.field, `${name} is a chunk namespace (use @${name}.<name>), not a variation source`);
  items.forEach((item, i) => {
    const field = typeof decl.value === 'string' ? decl.field : [...decl.field, i];
    if (isInlineText(item)) {
      rejectOldVariationsFile(loader, item, decl, field);
      add(inlineKey(item), unquote(item));
      return;
    }
    const path = loader.resolvePath(item, decl.file, field);
    const file = loader.variationsFile(path);
    source.files.push(path);
    file.keys.forEach((key, k) => {
      const renamed = index.has(key) ? `${collisionPrefix(item)}__${key}` : key;
      add(renamed, file.values[k]!);
    });
  });
  return source;
}
