// Reading one YAML file with positions, so every complaint about it (pipeline.yaml, a
// prompt, template, chunk, variations or theme file) names the file, line, column and
// field at fault. The one YAML reader of the project: the engine and the stages use it.
import { readFileSync, statSync } from 'node:fs';
import type { Document, LineCounter as LineCounterType, Node as YamlNode } from 'yaml';
import type { z } from 'zod';
import { requireCommonJs } from './commonjs.js';
import { InputError, InputErrors, type InputErrorWhere } from './errors.js';

const { LineCounter, parseDocument, isNode, isScalar, visit } = requireCommonJs('yaml') as typeof import('yaml');

/**
 * The largest YAML file read: sdgen's biggest real variations files are a few MB, and a
 * file far beyond that is a mistake (a log, a dump) that would take minutes and gigabytes
 * to parse. Refused, naming the file.
 */
export const MAX_YAML_BYTES = 32 * 1024 * 1024;

/** Copies an alias may expand to before the file counts as an alias bomb ("billion laughs"). */
const MAX_ALIAS_COUNT = 1000;

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

/** Parse YAML text; syntax errors, duplicate keys and alias bombs become InputErrors with line and column. */
export function parseYaml(path: string, text: string): YamlFile {
  const lines = new LineCounter();
  // uniqueKeys: true compares every key with every other (quadratic: minutes at 70,000
  // keys); duplicateKeys below finds the same mistakes in one pass.
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: false });
  if (doc.errors.length > 0) {
    throw oneOrMany(
      doc.errors.map((e) => {
        const pos = e.linePos?.[0];
        return new InputError(`YAML syntax error: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`, { file: path, line: pos?.line, col: pos?.col });
      }),
    );
  }
  const file = { path, text, data: undefined as unknown, doc, lines };
  const duplicates = duplicateKeys(file);
  if (duplicates.length > 0) throw oneOrMany(duplicates);
  file.data = toData(file);
  return file;
}

function at(file: Pick<YamlFile, 'path' | 'lines'>, node: YamlNode | null | undefined): InputErrorWhere {
  if (!node?.range) return { file: file.path };
  const { line, col } = file.lines.linePos(node.range[0]);
  return { file: file.path, line, col };
}

/** Every key written twice in one mapping, at the second one; each map's keys go through one Set. */
function duplicateKeys(file: Pick<YamlFile, 'path' | 'doc' | 'lines'>): InputError[] {
  const errors: InputError[] = [];
  visit(file.doc, {
    Map(_, map) {
      const seen = new Map<unknown, YamlNode>();
      for (const pair of map.items) {
        const key = pair.key;
        if (!isScalar(key)) continue;
        const first = seen.get(key.value);
        if (!first) {
          seen.set(key.value, key);
          continue;
        }
        const firstLine = at(file, first).line;
        errors.push(new InputError(`YAML syntax error: duplicate key "${String(key.value)}" (first written at line ${firstLine})`, at(file, key)));
      }
    },
  });
  return errors;
}

/** The plain data, refusing aliases that expand without bound. */
function toData(file: Pick<YamlFile, 'path' | 'doc' | 'lines'>): unknown {
  try {
    return file.doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    if (!(error instanceof ReferenceError)) throw error;
    let firstAlias: YamlNode | undefined;
    visit(file.doc, { Alias(_, alias) { firstAlias = alias; return visit.BREAK; } });
    throw new InputError(`YAML aliases expand to more than ${MAX_ALIAS_COUNT} copies (an alias bomb); write the values out instead`, at(file, firstAlias));
  }
}

/** Read and parse a YAML file; a missing, looping, oversized or unreadable file is bad input naming it. */
export function readYaml(path: string): YamlFile {
  let size: number;
  try {
    const stat = statSync(path);
    if (stat.isDirectory()) throw new InputError('expected a YAML file, found a folder', { file: path });
    size = stat.size;
  } catch (error) {
    if (error instanceof InputError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new InputError(code === 'ELOOP' ? 'a symlink loop: the link leads back to itself' : code === 'ENOENT' ? 'file not found' : `cannot read: ${(error as Error).message}`, { file: path });
  }
  if (size > MAX_YAML_BYTES) {
    throw new InputError(`${(size / 1024 / 1024).toFixed(1)} MB is over the ${MAX_YAML_BYTES / 1024 / 1024} MB a YAML file may have; split it into several files`, { file: path });
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new InputError(`cannot read: ${(error as Error).message}`, { file: path });
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
