// The YAML files under the variation folders, found without parsing any: the no-op path
// fingerprints them, and only an import loads them (variation-keys.ts).
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export function yamlFilesUnder(dir: string): string[] {
  const found: string[] = [];
  const entries = (() => {
    try {
      return readdirSync(dir, { withFileTypes: true });
    } catch {
      return [];
    }
  })();
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const path = join(dir, e.name);
    if (e.isDirectory()) found.push(...yamlFilesUnder(path));
    else if (e.name.endsWith('.yaml') && statSync(path).isFile()) found.push(path);
  }
  return found;
}
