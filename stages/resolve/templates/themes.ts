// Themes: a folder holding theme.yaml whose imports replace the template's; `X: [Remove]`
// blanks a placeholder and `X.<style>` beats a plain `X` when that style is chosen.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { ImportValue, ThemesBlock } from '../../../schemas/templates.js';
import { InputError } from '../../../src/errors.js';
import type { Declared } from './inherit.js';
import type { TemplateLoader } from './loader.js';

export interface AppliedTheme {
  name: string;
  style: string;
  path: string;
  imports: Map<string, Declared<ImportValue>>;
  /** placeholders that render "" */
  removed: Set<string>;
}

/** Both places the paths rule allows: near the declaring file, then near the entry prompt. */
function places(loader: TemplateLoader, relative: string, declaredIn: string): string[] {
  return [resolve(dirname(declaredIn), relative), resolve(loader.entryDir, relative)];
}

function themeFileIn(path: string): string | null {
  if (existsSync(path) && statSync(path).isFile()) return path;
  const inFolder = join(path, 'theme.yaml');
  return existsSync(inFolder) ? inFolder : null;
}

/** name -> theme.yaml path, explicit entries first, then autodiscovered folders. */
export function discoverThemes(loader: TemplateLoader, themes: Declared<ThemesBlock>): Map<string, string> {
  const found = new Map<string, string>();
  const block = themes.value;
  for (const [name, rel] of Object.entries(block.explicit ?? {})) {
    const path = places(loader, rel, themes.file.path).map(themeFileIn).find((p) => p !== null);
    if (!path) {
      const tried = places(loader, rel, themes.file.path).join(' and ');
      throw new InputError(`theme ${name}: no theme.yaml at ${rel} (tried ${tried})`, { file: themes.file.path, field: `themes.explicit.${name}` });
    }
    found.set(name, path);
  }
  if (!block.enable_autodiscovery) return found;
  for (const searchPath of block.search_paths ?? ['.']) {
    for (const dir of new Set(places(loader, searchPath, themes.file.path))) {
      if (!existsSync(dir) || !statSync(dir).isDirectory()) continue;
      for (const entry of readdirSync(dir).sort()) {
        const path = join(dir, entry, 'theme.yaml');
        if (!found.has(entry) && existsSync(path)) found.set(entry, path);
      }
    }
  }
  return found;
}

export function applyTheme(loader: TemplateLoader, themes: Declared<ThemesBlock>, name: string, style: string): AppliedTheme {
  const available = discoverThemes(loader, themes);
  const path = available.get(name);
  if (!path) {
    throw new InputError(`unknown theme "${name}"; available themes: ${[...available.keys()].join(', ') || '(none)'}`, { file: themes.file.path, field: 'themes' });
  }
  const { file, data } = loader.theme(path);
  const plain = new Map<string, Declared<ImportValue>>();
  const styled = new Map<string, Declared<ImportValue>>();
  for (const [key, value] of Object.entries(data.imports)) {
    const dot = key.indexOf('.');
    const decl = { value, file, field: ['imports', key] };
    if (dot < 0) plain.set(key, decl);
    else if (key.slice(dot + 1) === style) styled.set(key.slice(0, dot), decl);
  }
  const imports = new Map<string, Declared<ImportValue>>();
  const removed = new Set<string>();
  for (const [placeholder, decl] of new Map([...plain, ...styled])) {
    const v = decl.value;
    if (Array.isArray(v) && v.length === 1 && v[0] === 'Remove') removed.add(placeholder);
    else imports.set(placeholder, decl);
  }
  return { name, style, path, imports, removed };
}
