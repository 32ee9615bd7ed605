// Parse a YAML file and validate it with a zod schema, reporting problems as
// file:line:col plus the field path, the way a user needs to find them.
import { readFile } from 'node:fs/promises';
import type { Document, LineCounter as LineCounterType } from 'yaml';
import { requireCommonJs } from './commonjs.js';
import type { z } from 'zod';
import { InputError, InputErrors } from './errors.js';

const { LineCounter, parseDocument, isNode } = requireCommonJs('yaml') as typeof import('yaml');

export interface ParsedYaml {
  file: string;
  doc: Document;
  lines: LineCounterType;
  value: unknown;
}

export function parseYamlText(text: string, file: string): ParsedYaml {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new InputErrors(
      doc.errors.map((e) => {
        const pos = lines.linePos(e.pos[0]);
        return new InputError(`YAML syntax: ${e.message.split('\n')[0]}`, { file, line: pos.line, col: pos.col });
      }),
    );
  }
  return { file, doc, lines, value: doc.toJS() };
}

export async function readYamlFile(file: string): Promise<ParsedYaml> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new InputError('file not found', { file });
  }
  return parseYamlText(text, file);
}

/** Where a dotted path points in the document (the deepest node that exists). */
export function positionOf(parsed: ParsedYaml, path: (string | number)[]): { line?: number; col?: number } {
  for (let n = path.length; n >= 0; n--) {
    const node = parsed.doc.getIn(path.slice(0, n), true);
    if (isNode(node) && node.range) {
      const pos = parsed.lines.linePos(node.range[0]);
      return { line: pos.line, col: pos.col };
    }
  }
  return {};
}

export function formatPath(path: readonly PropertyKey[]): string {
  return path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p))).join('.').replace(/\.\[/g, '[');
}

/** Validate with zod; every issue becomes an InputError at the right line. */
export function validateYaml<S extends z.ZodType>(parsed: ParsedYaml, schema: S): z.infer<S> {
  const result = schema.safeParse(parsed.value);
  if (result.success) return result.data;
  throw new InputErrors(
    result.error.issues.map((issue) => {
      const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
      return new InputError(issue.message, { file: parsed.file, ...positionOf(parsed, path), field: formatPath(path) || undefined });
    }),
  );
}
