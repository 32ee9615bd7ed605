// Reading one YAML file with positions, so every complaint about it can name the line
// and column of the field at fault.
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import type { z } from 'zod';
import { InputError, InputErrors } from '../../../src/errors.js';

export interface YamlFile {
  path: string;
  text: string;
  data: unknown;
  doc: Document.Parsed;
  lines: LineCounter;
}

export type FieldPath = readonly (string | number)[];

/** A single problem stays an InputError, which every caller knows; several become InputErrors. */
export function oneOrMany(errors: InputError[]): InputError | InputErrors {
  return errors.length === 1 ? errors[0]! : new InputErrors(errors);
}

/** Parse YAML text; syntax errors become InputErrors with line and column. */
export function parseYaml(path: string, text: string): YamlFile {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw oneOrMany(
      doc.errors.map((e) => {
        const pos = e.linePos?.[0];
        return new InputError(`YAML syntax error: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`, { file: path, line: pos?.line, col: pos?.col });
      }),
    );
  }
  return { path, text, data: doc.toJS({ maxAliasCount: 1000 }), doc, lines };
}

export function readYaml(path: string): YamlFile {
  return parseYaml(path, readFileSync(path, 'utf8'));
}

/** Line and column of the node at `field`, or of its nearest existing parent. */
export function positionOf(file: YamlFile, field: FieldPath): { line?: number; col?: number } {
  for (let depth = field.length; depth >= 0; depth--) {
    const node = depth === 0 ? file.doc.contents : file.doc.getIn(field.slice(0, depth), true);
    if (isNode(node) && node.range) {
      const { line, col } = file.lines.linePos(node.range[0]);
      return { line, col };
    }
  }
  return {};
}

export function fieldName(field: FieldPath): string {
  return field.map(String).join('.');
}

/** An InputError located at `field` of `file`. */
export function errorAt(file: YamlFile, field: FieldPath, message: string): InputError {
  return new InputError(message, { file: file.path, ...positionOf(file, field), field: fieldName(field) || undefined });
}

/** Validate with zod; every issue becomes one located InputError. */
export function parseWith<S extends z.ZodType>(file: YamlFile, schema: S, what: string): z.infer<S> {
  const result = schema.safeParse(file.data);
  if (result.success) return result.data;
  throw oneOrMany(
    result.error.issues.map((issue) => {
      const field = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
      return errorAt(file, field, `${issue.message} (in a ${what} file)`);
    }),
  );
}
