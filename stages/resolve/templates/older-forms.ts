// Files written for older sdgen versions: what can be read as V2.0 is read (with a
// warning naming the V2.0 form), and what cannot is rejected with a message naming it.
import { requireCommonJs } from '../../../src/commonjs.js';
import { errorAt, type YamlFile } from '../../../src/yaml-file.js';

const { isMap } = requireCommonJs('yaml') as typeof import('yaml');

function fields(file: YamlFile): Record<string, unknown> | null {
  return file.data && typeof file.data === 'object' && !Array.isArray(file.data) ? (file.data as Record<string, unknown>) : null;
}

/** sdgen V1 files still in the wild: say what they are and what the V2.0 form looks like. */
/** `kind` as the loader names file kinds (prompt, template, chunk, ...). */
export function rejectOldFormat(file: YamlFile, kind: string): void {
  if (Array.isArray(file.data)) {
    throw errorAt(file, [], 'old list-of-items variations format (sdgen V1); V2.0 expects a mapping key -> value, e.g. `BobCut: "bob cut, chin-length"`, or `variations:` holding that mapping');
  }
  const data = fields(file);
  if (data?.type === 'character' && kind !== 'chunk') {
    throw errorAt(file, ['type'], 'old `type: character` file (sdgen V1); in V2.0 write a chunk file `<name>.chunk.yaml` with `type: character`, `name` and `template`, declare it under `chunks:` and insert it with @Name');
  }
  if ((kind === 'prompt' || kind === 'template') && data && 'variations' in data && !('imports' in data) && isMap(file.doc.get('variations', true))) {
    throw errorAt(file, ['variations'], 'old `variations:` block (sdgen V1); V2.0 names the variation files under `imports:`, e.g. `imports:\\n  HairCut: ../variations/haircuts.yaml`');
  }
}

/**
 * Older prompt files wrote their text under `template:`; sdgen V2.0 refuses them. The
 * text means the same, so it is read as `prompt:`, with a warning naming the V2.0 key.
 */
export function promptFromOlderForm(file: YamlFile, warnings: string[]): YamlFile {
  const data = fields(file);
  if (!data || !('template' in data) || 'prompt' in data || typeof data.template !== 'string') return file;
  if (data.template.includes('{prompt}')) {
    throw errorAt(file, ['template'], 'a prompt file holds `prompt:` (V2.0); a `template:` with {prompt} belongs in a .template.yaml file that this prompt `implements`');
  }
  warnings.push(`${file.path}: \`template:\` is the older key of a prompt file; V2.0 writes \`prompt:\` (read as prompt)`);
  const { template, ...rest } = data;
  return { ...file, data: { ...rest, prompt: template } };
}

/** `base_path: ..` in an older file: the folder its import paths start from, relative to the file. */
export function basePathOf(file: YamlFile): string | null {
  const base = fields(file)?.base_path;
  return typeof base === 'string' && base.trim() !== '' ? base : null;
}

/** sdgen sends `sampler` and ignores `sampler_name`; when a file sets both differently, say which one counts. */
export function samplerWarning(parameters: Record<string, unknown>, file: string): string | null {
  const { sampler, sampler_name: samplerName } = parameters;
  if (sampler === undefined || samplerName === undefined || sampler === samplerName) return null;
  return `${file}: parameters set sampler ${JSON.stringify(sampler)} and sampler_name ${JSON.stringify(samplerName)}; sampler (sdgen's key) is sent`;
}
