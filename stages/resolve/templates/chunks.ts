// Chunk insertion: `@NAME`, `@ns.NAME` and `@{NAME with P1: text, P2: text}`. Unlike sdgen,
// a chunk's own imports and defaults take part in resolution.
import type { ImportValue } from '../../../schemas/templates.js';
import { InputError } from '../../../src/errors.js';
import type { Declared } from './inherit.js';
import { isChunkPath } from './imports.js';
import type { TemplateLoader } from './loader.js';

export type ChunkDecl = Declared<string | Record<string, string>>;

export interface Expansion {
  text: string;
  /** imports declared by the chunks used, first declaration wins */
  imports: Map<string, Declared<ImportValue>>;
  warnings: string[];
}

interface LoadedChunk {
  template: string;
  defaults: Record<string, string>;
  imports: Map<string, Declared<ImportValue>>;
}

/** Chunks come from `chunks:` and from imports that name a .chunk.yaml or a namespace. */
export function chunkRegistry(chunks: Map<string, ChunkDecl>, imports: Map<string, Declared<ImportValue>>): Map<string, ChunkDecl> {
  const registry = new Map<string, ChunkDecl>();
  for (const [name, decl] of imports) {
    const v = decl.value;
    if ((typeof v === 'string' && isChunkPath(v)) || (typeof v === 'object' && !Array.isArray(v))) {
      registry.set(name, decl as ChunkDecl);
    }
  }
  for (const [name, decl] of chunks) registry.set(name, decl);
  return registry;
}

/** Split on commas outside braces and brackets. */
export function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

/** Index of the `}` closing the `{` at `open`, or -1. */
function matchingBrace(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === '{') depth++;
    else if (text[i] === '}' && --depth === 0) return i;
  }
  return -1;
}

export function parseChunkCall(inner: string): { name: string; args: Record<string, string> } {
  const m = /^\s*([\p{L}\p{N}_.]+)(?:\s+with\s+([\s\S]*))?$/u.exec(inner);
  if (!m) throw new InputError(`cannot read chunk call @{${inner}}: expected @{NAME} or @{NAME with P1: text, P2: text}`);
  const args: Record<string, string> = {};
  for (const part of m[2] ? splitTopLevel(m[2]) : []) {
    const colon = part.indexOf(':');
    if (colon < 0) throw new InputError(`chunk parameter "${part.trim()}" in @{${inner}}: expected NAME: text`);
    args[part.slice(0, colon).trim()] = part.slice(colon + 1).trim();
  }
  return { name: m[1]!, args };
}

function chunkPath(loader: TemplateLoader, registry: Map<string, ChunkDecl>, ref: string): string | null {
  const [head, ...rest] = ref.split('.');
  const decl = registry.get(head!);
  if (!decl) return null;
  if (typeof decl.value === 'string') return rest.length === 0 ? loader.resolvePath(decl.value, decl.file, decl.field) : null;
  const sub = rest.join('.');
  const target = decl.value[sub];
  return target === undefined ? null : loader.resolvePath(target, decl.file, [...decl.field, sub]);
}

function loadChunk(loader: TemplateLoader, path: string): LoadedChunk {
  const { file, data } = loader.chunk(path);
  const imports = new Map<string, Declared<ImportValue>>();
  let defaults: Record<string, string> = {};
  if (data.implements) {
    const parent = loader.chunk(loader.resolvePath(data.implements, file, ['implements']));
    if (parent.data.type !== data.type) {
      throw new InputError(`chunk implements ${parent.file.path} of type "${parent.data.type}"; expected the same type "${data.type}"`, { file: path, field: 'implements' });
    }
    if (parent.data.implements) {
      throw new InputError(`chunk inheritance is one level deep, but ${parent.file.path} implements another chunk`, { file: path, field: 'implements' });
    }
    for (const [n, v] of Object.entries(parent.data.imports ?? {})) imports.set(n, { value: v, file: parent.file, field: ['imports', n] });
    defaults = { ...parent.data.defaults };
  }
  for (const [n, v] of Object.entries(data.imports ?? {})) imports.set(n, { value: v, file, field: ['imports', n] });
  return { template: data.template, defaults: { ...defaults, ...data.defaults }, imports };
}

const REF = /@(\{|[\p{L}\p{N}_]+(?:\.[\p{L}\p{N}_]+)*)/gu;

export function expandChunks(loader: TemplateLoader, text: string, registry: Map<string, ChunkDecl>): Expansion {
  const result: Expansion = { text: '', imports: new Map(), warnings: [] };
  const expand = (input: string, stack: string[]): string => {
    let out = '';
    let last = 0;
    const re = new RegExp(REF);
    for (let m = re.exec(input); m; m = re.exec(input)) {
      let ref = m[1]!;
      let args: Record<string, string> = {};
      let end = m.index + m[0].length;
      if (ref === '{') {
        const close = matchingBrace(input, m.index + 1);
        if (close < 0) throw new InputError(`unclosed chunk call starting "${input.slice(m.index, m.index + 40)}"`);
        ({ name: ref, args } = parseChunkCall(input.slice(m.index + 2, close)));
        end = close + 1;
      }
      const path = chunkPath(loader, registry, ref);
      if (!path) {
        result.warnings.push(`@${ref} names no declared chunk; left as written`);
        re.lastIndex = end;
        continue;
      }
      if (stack.includes(path)) throw new InputError(`chunk cycle: ${[...stack, path].join(' -> ')}`, { file: path });
      const chunk = loadChunk(loader, path);
      let body = chunk.template;
      for (const [p, v] of Object.entries(args)) body = body.replaceAll(`{${p}}`, v);
      for (const [p, v] of Object.entries(chunk.defaults)) if (!(p in args)) body = body.replaceAll(`{${p}}`, v);
      for (const [n, d] of chunk.imports) if (!result.imports.has(n)) result.imports.set(n, d);
      const inner = expand(body, [...stack, path]);
      re.lastIndex = end;
      out += input.slice(last, m.index) + inner;
      last = end;
    }
    return out + input.slice(last);
  };
  result.text = expand(text, []);
  return result;
}
