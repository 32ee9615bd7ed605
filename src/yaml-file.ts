// Reading one YAML file with positions, so every complaint about it (pipeline.yaml, a
// prompt, template, chunk, variations or theme file) names the file, line, column and
// field at fault. The one YAML reader of the project: the engine and the stages use it.
import { readFileSync } from 'node:fs';
import type { Document, LineCounter as LineCounterType } from 'yaml';
import type { z } from 'zod';
import { requireCommonJs } from './commonjs.js';
import { InputError, InputErrors } from './errors.js';

const { LineCounter, parseDocument, isNode } = requireCommonJs('yaml') as typeof import('yaml');

export interface YamlFile {
  path: string;
  text: string;
  data: unknown;
  doc: Document.Parsed;
  lines: LineCounterType;
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

/** Read and parse a YAML file; a missing file is bad input naming it. */
export function readYaml(path: string): YamlFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new InputError('file not found', { file: path });
  }
  return parseYaml(path, text);
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

/** `stages.generate.deps[0]`: how a field is named in messages. */
export function fieldName(field: FieldPath): string {
  return field.map((p) => (typeof p === 'number' ? `[${p}]` : String(p))).join('.').replace(/\.\[/g, '[');
}

/** An InputError located at `field` of `file`. */
export function errorAt(file: YamlFile, field: FieldPath, message: string): InputError {
  return new InputError(message, { file: file.path, ...positionOf(file, field), field: fieldName(field) || undefined });
}

/** Validate with zod; every issue becomes one located InputError. `what` names the kind of file in the message. */
export function parseWith<S extends z.ZodType>(file: YamlFile, schema: S, what?: string): z.infer<S> {
  const result = schema.safeParse(file.data);
  if (result.success) return result.data;
  throw oneOrMany(
    result.error.issues.map((issue) => {
      const field = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
      return errorAt(file, field, what ? `${issue.message} (in a ${what} file)` : issue.message);
    }),
  );
}
