// `pipeline themes new`: the files of a new theme for a template, one variations file per
// placeholder the template imports, filled from another theme (--from) or from the
// template's own values, so the user edits values instead of writing structure.
import { dirname, join, resolve } from 'node:path';
import { requireCommonJs } from '../../../src/commonjs.js';
import { InputError } from '../../../src/errors.js';
import { isVariationImport, loadSource } from './imports.js';
import type { TemplateLoader } from './loader.js';
import type { TemplateChain } from './theme-info.js';
import { applyTheme } from './themes.js';

const { stringify } = requireCommonJs('yaml') as typeof import('yaml');

export interface ScaffoldFile {
  path: string;
  text: string;
}

/** `HairColor` -> `hair-color.yaml`. */
function fileNameOf(placeholder: string): string {
  return `${placeholder.replace(/([\p{Ll}\p{N}])(\p{Lu})/gu, '$1-$2').replace(/_/g, '-').toLowerCase()}.yaml`;
}

/** Where autodiscovery looks first: a new theme there is found without touching the template. */
function themesFolder(chain: TemplateChain): string {
  const themes = chain.themes;
  if (!themes || !themes.value.enable_autodiscovery) {
    throw new InputError('needs a themes block with enable_autodiscovery: true and search_paths, so that a new theme folder is found', { file: (themes?.file ?? chain.files[0]!).path, field: 'themes' });
  }
  return resolve(dirname(themes.file.path), themes.value.search_paths?.[0] ?? '.');
}

export function scaffoldTheme(loader: TemplateLoader, chain: TemplateChain, name: string, from: string | null): { dir: string; files: ScaffoldFile[] } {
  if (!/^[\p{L}\p{N}_-]+$/u.test(name)) throw new InputError(`theme name "${name}": use letters, digits, - and _ (it is a folder name)`, { field: 'name' });
  const dir = join(themesFolder(chain), name);
  const base = from ? applyTheme(loader, chain.themes!, from, 'default') : null;
  const imports: Record<string, string | string[]> = {};
  const files: ScaffoldFile[] = [];
  for (const placeholder of chain.placeholders) {
    if (base?.removed.has(placeholder)) {
      imports[placeholder] = ['Remove'];
      continue;
    }
    const decl = base?.imports.get(placeholder) ?? chain.imports.get(placeholder);
    if (!decl || !isVariationImport(decl.value)) continue;
    const source = loadSource(loader, placeholder, decl);
    const mapping = Object.fromEntries(source.keys.map((k, i) => [k, source.values[i]]));
    imports[placeholder] = fileNameOf(placeholder);
    files.push({ path: join(dir, fileNameOf(placeholder)), text: stringify(mapping) });
  }
  const theme = {
    version: '2.0', type: 'theme_config', name, description: from ? `${name}, started from ${from}` : name, tags: [],
    imports, variations: Object.keys(imports),
  };
  return { dir, files: [{ path: join(dir, 'theme.yaml'), text: stringify(theme) }, ...files] };
}
