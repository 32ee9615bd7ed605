// What the themes commands show: the themes in a folder tree or reachable from a
// template, one theme's styles and imports, and how a theme covers a template's
// placeholders (sdgen's provided / fallback / missing).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { ImportValue, PromptFile, TemplateFile, ThemesBlock } from '../../../schemas/templates.js';
import { InputError } from '../../../src/errors.js';
import type { YamlFile } from '../../../src/yaml-file.js';
import type { Declared } from './inherit.js';
import { TemplateLoader } from './loader.js';
import { discoverThemes } from './themes.js';

export interface ThemeInfo {
  name: string;
  path: string;
  description: string;
  tags: string[];
  /** styles named by `X.<style>` keys, besides `default` */
  styles: string[];
  /** key as written (`HairColor`, `HairColor.cartoon`) -> file, or `[Remove]` */
  imports: Record<string, string>;
}

/** A template (or prompt) with its parents: the placeholders written, the imports, the themes block. */
export interface TemplateChain {
  files: YamlFile[];
  placeholders: string[];
  imports: Map<string, Declared<ImportValue>>;
  themes: Declared<ThemesBlock> | null;
}

const NAME = /\{([\p{L}\p{N}_]+)(?::[\p{L}\p{N}_]+)?(?:\[[^\]]*\])?(?::[\p{L}\p{N}_]+)?\}/gu;

export function readTheme(loader: TemplateLoader, path: string): ThemeInfo {
  const { data } = loader.theme(path);
  const imports = Object.fromEntries(Object.entries(data.imports).map(([k, v]) => [k, Array.isArray(v) ? `[${v.join(', ')}]` : v]));
  const styles = [...new Set(Object.keys(data.imports).filter((k) => k.includes('.')).map((k) => k.slice(k.indexOf('.') + 1)))].sort();
  return { name: basename(dirname(path)), path, description: data.description ?? '', tags: data.tags ?? [], styles, imports };
}

/**
 * Folders that hold what runs produce (tens of thousands of images) or tools' files: a
 * theme is never there, and listing them would cost more than everything else.
 */
const NOT_THEMES = new Set(['node_modules', 'sessions', 'objects', 'tables', 'memo', 'trash']);

/** Every `<name>/theme.yaml` under `root`, in path order. */
export function themeFilesUnder(root: string): string[] {
  if (!existsSync(root) || !statSync(root).isDirectory()) return [];
  const found: string[] = [];
  for (const entry of readdirSync(root, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.name === 'theme.yaml' && entry.isFile()) found.push(join(root, entry.name));
    else if (entry.isDirectory() && !entry.name.startsWith('.') && !NOT_THEMES.has(entry.name)) found.push(...themeFilesUnder(join(root, entry.name)));
  }
  return found;
}

/** The chain from `path` up through `implements`, child first: what a theme check needs. */
export function templateChain(loader: TemplateLoader, path: string): TemplateChain {
  const chain: TemplateChain = { files: [], placeholders: [], imports: new Map(), themes: null };
  const seen = new Set<string>();
  for (let at: string | undefined = resolve(path); at !== undefined;) {
    if (seen.has(at)) throw new InputError(`cycle in implements: ${[...seen, at].join(' -> ')}`, { file: at, field: 'implements' });
    seen.add(at);
    const { file, data }: { file: YamlFile; data: PromptFile | TemplateFile } = at.endsWith('.prompt.yaml') ? loader.prompt(at) : loader.template(at);
    chain.files.push(file);
    const text = `${'prompt' in data ? data.prompt : data.template}\n${data.negative_prompt ?? ''}`;
    addPlaceholders(chain, text);
    for (const chunk of chunkPaths(data.chunks ?? {})) addChunk(loader, chain, loader.resolvePath(chunk, file, ['chunks']));
    for (const [name, value] of Object.entries(data.imports ?? {})) if (!chain.imports.has(name)) chain.imports.set(name, { value, file, field: ['imports', name] });
    if (!chain.themes && data.themes) chain.themes = { value: data.themes, file, field: ['themes'] };
    at = data.implements === undefined ? undefined : loader.resolvePath(data.implements, file, ['implements']);
  }
  return chain;
}

/** {prompt} and {negprompt} are where inheritance puts text, not placeholders a theme fills. */
const RESERVED = new Set(['prompt', 'negprompt']);

function addPlaceholders(chain: TemplateChain, text: string, skip: Set<string> = RESERVED): void {
  for (const m of text.matchAll(NAME)) if (!skip.has(m[1]!) && !chain.placeholders.includes(m[1]!)) chain.placeholders.push(m[1]!);
}

function chunkPaths(chunks: Record<string, string | Record<string, string>>): string[] {
  return Object.values(chunks).flatMap((v) => (typeof v === 'string' ? [v] : Object.values(v)));
}

/**
 * A chunk (and the parent it implements) adds its placeholders, except its parameters
 * (`defaults`, filled by the caller), and its own imports stand in like the template's.
 */
function addChunk(loader: TemplateLoader, chain: TemplateChain, path: string): void {
  const { file, data } = loader.chunk(path);
  const links = [{ file, data }];
  if (data.implements !== undefined) links.push(loader.chunk(loader.resolvePath(data.implements, file, ['implements'])));
  const params = new Set([...RESERVED, ...links.flatMap((l) => Object.keys(l.data.defaults ?? {}))]);
  for (const link of links) {
    addPlaceholders(chain, link.data.template, params);
    for (const [name, value] of Object.entries(link.data.imports ?? {})) if (!chain.imports.has(name)) chain.imports.set(name, { value, file: link.file, field: ['imports', name] });
  }
}

export function themesOfChain(loader: TemplateLoader, chain: TemplateChain): Map<string, string> {
  if (!chain.themes) throw new InputError('declares no themes block (themes: {enable_autodiscovery, search_paths, explicit})', { file: chain.files[0]!.path, field: 'themes' });
  return discoverThemes(loader, chain.themes);
}

export type Coverage = 'provided' | 'removed' | 'fallback' | 'missing';

/** Per placeholder of the template: the theme provides it (for this style or plainly), removes it, the template's own import stands in, or nothing does. */
export function checkTheme(chain: TemplateChain, theme: ThemeInfo, style: string): [string, Coverage][] {
  return chain.placeholders.map((name) => {
    const value = theme.imports[`${name}.${style}`] ?? theme.imports[name];
    if (value === '[Remove]') return [name, 'removed'];
    if (value !== undefined) return [name, 'provided'];
    return [name, chain.imports.has(name) ? 'fallback' : 'missing'];
  });
}
