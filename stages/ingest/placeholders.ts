// A plain A1111 folder never wrote down which placeholder a text filled; the user's
// prompt, template, chunk and theme files did, in their `imports:` (`HairColor:
// ../variations/hair.yaml`). Naming each variation file's axis by that placeholder gives
// imported images the axis names generated images have.
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { readYaml } from '../../src/yaml-file.js';
import { isChunkPath, isInlineText } from '../resolve/templates/imports.js';
import { kindOf } from '../resolve/templates/loader.js';
import { yamlFilesUnder } from './variation-files.js';

/** The files one import names: a path, or a list mixing paths and inline texts. */
function importedFiles(value: unknown, file: string, projectDir: string): string[] {
  const items = typeof value === 'string' ? [value] : Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
  return items
    .filter((item) => !isInlineText(item) && !isChunkPath(item))
    // Where resolve's loader looks first: beside the declaring file, then from the project.
    .map((item) => [resolve(dirname(file), item), resolve(projectDir, item)].find((p) => existsSync(p)))
    .filter((p): p is string => p !== undefined);
}

/** The file's `imports:` when it is a prompt, template, chunk or theme file (by name or by its `type:`). */
function importsOf(path: string): Record<string, unknown> {
  let data: unknown;
  try {
    data = readYaml(path).data;
  } catch {
    // A file the user's templates cannot parse names no placeholder; resolve reports it where it matters.
    return {};
  }
  if (kindOf(path, data) === 'variations' || typeof data !== 'object' || data === null) return {};
  const imports = (data as { imports?: unknown }).imports;
  return typeof imports === 'object' && imports !== null && !Array.isArray(imports) ? (imports as Record<string, unknown>) : {};
}

/**
 * Variation file (absolute path) -> the placeholder it is imported as. A file imported
 * under several names takes the one most imports use (then the first alphabetically).
 */
export function placeholderNames(dirs: string[], projectDir: string): Map<string, string> {
  const uses = new Map<string, Map<string, number>>();
  for (const path of dirs.flatMap(yamlFilesUnder)) {
    for (const [placeholder, value] of Object.entries(importsOf(path))) {
      for (const file of importedFiles(value, path, projectDir)) {
        const counts = uses.get(file) ?? new Map<string, number>();
        counts.set(placeholder, (counts.get(placeholder) ?? 0) + 1);
        uses.set(file, counts);
      }
    }
  }
  const names = new Map<string, string>();
  for (const [file, counts] of uses) {
    const [best] = [...counts].sort(([a, n], [b, m]) => m - n || a.localeCompare(b));
    names.set(file, best![0]);
  }
  return names;
}
