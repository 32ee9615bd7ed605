// Typos such as `negative_promt` pass a loose schema silently (sdgen ignores unknown keys
// too); `pipeline validate` points them out as warnings.
import { requireCommonJs } from '../../../src/commonjs.js';
import { chunkFileSchema, promptFileSchema, templateFileSchema, themeFileSchema } from '../../../schemas/templates.js';
import { InputError } from '../../../src/errors.js';
import type { FileKind } from './loader.js';
import type { YamlFile } from '../../../src/yaml-file.js';

const { isMap, isScalar } = requireCommonJs('yaml') as typeof import('yaml');

/** Keys real sdgen files carry that sdgen itself does not act on. */
const SDGEN_EXTRAS = ['themable', 'style_sensitive', 'prompts', 'description', 'base_path'];

const KNOWN: Partial<Record<FileKind, Set<string>>> = {
  // `template:` in a prompt file is the older key for `prompt:`, read as such (with its own warning).
  prompt: new Set([...Object.keys(promptFileSchema.shape), ...SDGEN_EXTRAS, 'template']),
  template: new Set([...Object.keys(templateFileSchema.shape), ...SDGEN_EXTRAS]),
  chunk: new Set([...Object.keys(chunkFileSchema.shape), ...SDGEN_EXTRAS]),
  theme: new Set([...Object.keys(themeFileSchema.shape), ...SDGEN_EXTRAS]),
};

export function unknownKeys(file: YamlFile, kind: FileKind): InputError[] {
  const known = KNOWN[kind];
  const root = file.doc.contents;
  if (!known || !isMap(root)) return [];
  return root.items.flatMap((pair) => {
    const key = String(isScalar(pair.key) ? pair.key.value : pair.key);
    if (known.has(key)) return [];
    const at = isScalar(pair.key) && pair.key.range ? file.lines.linePos(pair.key.range[0]) : {};
    return [new InputError(`unknown key "${key}" in a ${kind} file, ignored (known: ${[...known].join(', ')})`, { file: file.path, ...at, field: key })];
  });
}
