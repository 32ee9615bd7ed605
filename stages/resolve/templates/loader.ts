// Loads and validates the sdgen file kinds, applying the paths rule and remembering every
// file read (the resolve stage declares them as dependencies).
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { requireCommonJs } from '../../../src/commonjs.js';
import {
  chunkFileSchema, promptFileSchema, templateFileSchema, themeFileSchema, variationsMapping,
  type ChunkFile, type PromptFile, type TemplateFile, type ThemeFile, type VariationValue,
} from '../../../schemas/templates.js';
import { adetailerFileSchema, controlnetFileSchema, isAdetailerFile, isControlnetFile } from '../../../schemas/presets.js';
import type { z } from 'zod';
import { basePathOf, promptFromOlderForm, rejectOldFormat } from './older-forms.js';
import { InputError } from '../../../src/errors.js';
import { errorAt, oneOrMany, parseWith, readYaml, type FieldPath, type YamlFile } from '../../../src/yaml-file.js';

const { isMap, isScalar } = requireCommonJs('yaml') as typeof import('yaml');

export type FileKind = 'prompt' | 'template' | 'chunk' | 'theme' | 'variations' | 'adetailer' | 'controlnet';

/** A variations file: keys in file order (the index `#` selectors use) and their values. */
export interface VariationsFile {
  path: string;
  keys: string[];
  values: VariationValue[];
}

export function kindOf(path: string, data?: unknown): FileKind {
  const name = basename(path);
  if (name.endsWith('.prompt.yaml')) return 'prompt';
  if (name.endsWith('.template.yaml')) return 'template';
  if (name.endsWith('.chunk.yaml')) return 'chunk';
  if (name === 'theme.yaml') return 'theme';
  if (isAdetailerFile(name)) return 'adetailer';
  if (isControlnetFile(name)) return 'controlnet';
  const type = data && typeof data === 'object' && !Array.isArray(data) ? (data as { type?: unknown }).type : undefined;
  if (type === 'prompt') return 'prompt';
  if (type === 'template') return 'template';
  if (type === 'theme_config') return 'theme';
  if (type === 'controlnet_config') return 'controlnet';
  return 'variations';
}

export class TemplateLoader {
  /** Absolute paths of every file read, in first-read order. */
  readonly filesRead: string[] = [];
  /** what an older file needed to be read (printed by plan, validate and resolve) */
  readonly warnings: string[] = [];
  private readonly files = new Map<string, YamlFile>();
  private readonly variations = new Map<string, VariationsFile>();

  constructor(readonly entryDir: string) {}

  yaml(path: string): YamlFile {
    let file = this.files.get(path);
    if (!file) {
      this.filesRead.push(path);
      file = readYaml(path);
      this.files.set(path, file);
    }
    return file;
  }

  /** Relative to the declaring file; failing that, to the entry prompt's folder (where sdgen looks). */
  resolvePath(relative: string, declaredIn: YamlFile, field: FieldPath): string {
    const found = this.findPath(relative, declaredIn);
    if (found) return found;
    const tried = this.places(relative, declaredIn);
    throw errorAt(declaredIn, field, `file not found: ${relative} (tried ${tried.slice(0, -1).join(', ')} and ${tried.at(-1)})`);
  }

  findPath(relative: string, declaredIn: YamlFile): string | null {
    return this.places(relative, declaredIn).find((p) => existsSync(p)) ?? null;
  }

  /** An older file's `base_path` is where its paths start; then its own folder, then the entry prompt's. */
  private places(relative: string, declaredIn: YamlFile): string[] {
    const base = basePathOf(declaredIn);
    const near = [resolve(dirname(declaredIn.path), relative), resolve(this.entryDir, relative)];
    return base === null ? near : [resolve(dirname(declaredIn.path), base, relative), ...near];
  }

  prompt(path: string): { file: YamlFile; data: PromptFile } {
    const file = this.checked(path, 'prompt');
    return { file, data: parseWith(promptFromOlderForm(file, this.warnings), promptFileSchema, 'prompt') };
  }

  template(path: string): { file: YamlFile; data: TemplateFile } {
    const file = this.checked(path, 'template');
    return { file, data: parseWith(file, templateFileSchema, 'template') };
  }

  chunk(path: string): { file: YamlFile; data: ChunkFile } {
    const file = this.checked(path, 'chunk');
    return { file, data: parseWith(file, chunkFileSchema, 'chunk') };
  }

  theme(path: string): { file: YamlFile; data: ThemeFile } {
    const file = this.checked(path, 'theme');
    return { file, data: parseWith(file, themeFileSchema, 'theme') };
  }

  /** A `.adetailer.yaml` preset: one ADetailer detector. */
  adetailer(path: string): { file: YamlFile; data: z.infer<typeof adetailerFileSchema> } {
    const file = this.checked(path, 'adetailer');
    return { file, data: parseWith(file, adetailerFileSchema, 'sdgen ADetailer preset') };
  }

  /** A `.controlnet.yaml` preset: ControlNet units. */
  controlnet(path: string): { file: YamlFile; data: z.infer<typeof controlnetFileSchema> } {
    const file = this.checked(path, 'controlnet');
    return { file, data: parseWith(file, controlnetFileSchema, 'ControlNet preset') };
  }

  variationsFile(path: string): VariationsFile {
    const cached = this.variations.get(path);
    if (cached) return cached;
    const file = this.checked(path, 'variations');
    const structured = isMap(file.doc.contents) && file.doc.contents.has('variations')
      && isMap(file.doc.contents.get('variations', true));
    const field = structured ? ['variations'] : [];
    const node = structured ? file.doc.getIn(field, true) : file.doc.contents;
    if (!isMap(node)) throw errorAt(file, field, 'expected a mapping key -> value (a variations file)');
    const mapping = (structured ? (file.data as { variations: unknown }).variations : file.data);
    const parsed = variationsMapping.safeParse(mapping);
    if (!parsed.success) {
      throw oneOrMany(parsed.error.issues.map((issue) => {
        const at = [...field, ...issue.path.filter((p): p is string | number => typeof p !== 'symbol')];
        return errorAt(file, at, `expected a text or a multipart mapping {part: text} (${issue.message})`);
      }));
    }
    // Keys come from the YAML nodes: JS objects would reorder integer-like keys.
    const keys = node.items.map((pair) => String(isScalar(pair.key) ? pair.key.value : pair.key));
    const result = { path, keys, values: keys.map((k) => parsed.data[k]!) };
    this.variations.set(path, result);
    return result;
  }

  private checked(path: string, kind: FileKind): YamlFile {
    if (!existsSync(path) || !statSync(path).isFile()) throw new InputError('file not found', { file: path });
    const file = this.yaml(path);
    rejectOldFormat(file, kind);
    return file;
  }
}
