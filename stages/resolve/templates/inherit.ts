// `implements` chains: fold templates from the root down to the entry prompt.
import type { GenerationBlock, ImportValue, OutputBlock, ThemesBlock } from '../../../schemas/templates.js';
import { InputError } from '../../../src/errors.js';
import type { TemplateLoader } from './loader.js';
import type { YamlFile } from '../../../src/yaml-file.js';

/** A value declared in some file: paths inside it are relative to that file. */
export interface Declared<T> {
  value: T;
  file: YamlFile;
  /** the field path of the declaration, for error positions */
  field: (string | number)[];
}

export interface ResolvedPrompt {
  entry: YamlFile;
  name: string;
  /** the template text with every `{prompt}` filled, chunks not yet expanded */
  text: string;
  negative: string;
  /** imports from the templates the prompt implements (a theme replaces these) */
  inheritedImports: Map<string, Declared<ImportValue>>;
  /** the entry prompt's own imports (always on top) */
  ownImports: Map<string, Declared<ImportValue>>;
  chunks: Map<string, Declared<string | Record<string, string>>>;
  parameters: Record<string, unknown>;
  /** the file that set each parameter (child over parent): preset paths are relative to it */
  parameterFiles: Map<string, YamlFile>;
  generation: GenerationBlock;
  output: OutputBlock;
  themes: Declared<ThemesBlock> | null;
  styleSensitive: string[];
  /** the files of the chain, root first */
  chain: string[];
}

interface Link {
  file: YamlFile;
  text: string;
  negative: string | undefined;
  imports?: Record<string, ImportValue>;
  chunks?: Record<string, string | Record<string, string>>;
  parameters?: Record<string, unknown>;
  themes?: ThemesBlock;
  styleSensitive?: string[];
}

function declare<T>(into: Map<string, Declared<T>>, block: Record<string, T> | undefined, file: YamlFile, key: string) {
  for (const [name, value] of Object.entries(block ?? {})) into.set(name, { value, file, field: [key, name] });
}

/** Parent templates, root first; a cycle is an error naming the files. */
function ancestors(loader: TemplateLoader, first: string | undefined, from: YamlFile, seen: string[]): Link[] {
  const links: Link[] = [];
  let implementsPath = first;
  let declaredIn = from;
  while (implementsPath !== undefined) {
    const path = loader.resolvePath(implementsPath, declaredIn, ['implements']);
    if (seen.includes(path)) {
      throw new InputError(`cycle in implements: ${[...seen, path].join(' -> ')}`, { file: declaredIn.path, field: 'implements' });
    }
    seen.push(path);
    const { file, data } = loader.template(path);
    links.unshift({
      file, text: data.template, negative: data.negative_prompt, imports: data.imports, chunks: data.chunks,
      parameters: data.parameters, themes: data.themes, styleSensitive: data.style_sensitive_placeholders,
    });
    implementsPath = data.implements;
    declaredIn = file;
  }
  return links;
}

/** Negative: a parent's `{negprompt}` takes the child's; otherwise a non-empty child negative wins. */
function foldNegative(parent: string, child: string | undefined): string {
  if (parent.includes('{negprompt}')) return parent.replaceAll('{negprompt}', child ?? '');
  return child ? child : parent;
}

export function resolveInheritance(loader: TemplateLoader, entryPath: string): ResolvedPrompt {
  const { file: entry, data } = loader.prompt(entryPath);
  const links = ancestors(loader, data.implements, entry, [entryPath]);
  let text = '{prompt}';
  let negative = '{negprompt}';
  const inheritedImports = new Map<string, Declared<ImportValue>>();
  const chunks = new Map<string, Declared<string | Record<string, string>>>();
  let parameters: Record<string, unknown> = {};
  const parameterFiles = new Map<string, YamlFile>();
  let themes: Declared<ThemesBlock> | null = null;
  let styleSensitive: string[] = [];
  for (const link of links) {
    text = text.replaceAll('{prompt}', link.text);
    negative = foldNegative(negative, link.negative);
    declare(inheritedImports, link.imports, link.file, 'imports');
    declare(chunks, link.chunks, link.file, 'chunks');
    parameters = { ...parameters, ...link.parameters };
    for (const key of Object.keys(link.parameters ?? {})) parameterFiles.set(key, link.file);
    if (link.themes) themes = { value: link.themes, file: link.file, field: ['themes'] };
    if (link.styleSensitive) styleSensitive = link.styleSensitive;
  }
  text = text.replaceAll('{prompt}', data.prompt);
  negative = foldNegative(negative, data.negative_prompt).replaceAll('{negprompt}', '');
  const ownImports = new Map<string, Declared<ImportValue>>();
  declare(ownImports, data.imports, entry, 'imports');
  declare(chunks, data.chunks, entry, 'chunks');
  for (const key of Object.keys(data.parameters ?? {})) parameterFiles.set(key, entry);
  if (data.themes) themes = { value: data.themes, file: entry, field: ['themes'] };
  return {
    entry, name: data.name, text, negative, inheritedImports, ownImports, chunks,
    parameters: { ...parameters, ...data.parameters }, parameterFiles, generation: data.generation, output: data.output ?? {},
    themes, styleSensitive, chain: [...links.map((l) => l.file.path), entryPath],
  };
}
