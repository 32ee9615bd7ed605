// Bad input (exit 2) versus a stage that failed while running (exit 1).
import { isAbsolute, relative, resolve } from 'node:path';

/** A path as messages show it: relative to `base` (the project) when inside it, else whole. */
export function shownPath(base: string, path: string): string {
  const whole = resolve(base, path);
  const rel = relative(base, whole);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : whole;
}

/**
 * A folder or file outside any project as messages show it: as typed from here (relative
 * to the current folder when below it), else whole.
 */
export function pathFromHere(path: string): string {
  const whole = resolve(path);
  const rel = relative(process.cwd(), whole);
  if (rel === '') return 'this folder';
  return !rel.startsWith('..') && !isAbsolute(rel) ? rel : whole;
}

export interface InputErrorWhere {
  file?: string;
  line?: number;
  col?: number;
  field?: string;
}

/** The user's files or arguments are wrong: report where and what was expected, write nothing. */
export class InputError extends Error {
  readonly where: InputErrorWhere;
  constructor(message: string, where: InputErrorWhere = {}) {
    super(message);
    this.name = 'InputError';
    this.where = where;
  }

  /** `file:line:col: field: message`, omitting what is unknown; a file inside `base` is shown relative to it. */
  format(base?: string): string {
    const { file, line, col, field } = this.where;
    let at = file && base ? shownPath(base, file) : (file ?? '');
    if (file && line !== undefined) at += `:${line}${col !== undefined ? `:${col}` : ''}`;
    // A message that already starts with its field ("fixed Outfit:formal: ...") needs it only once.
    const named = field !== undefined && [' ', ':'].some((after) => this.message.startsWith(field + after));
    const prefix = [at, named ? undefined : field].filter(Boolean).join(': ');
    return prefix ? `${prefix}: ${this.message}` : this.message;
  }
}

/** Several problems found in one pass (validate reports all of them, not just the first). */
export class InputErrors extends Error {
  readonly errors: InputError[];
  constructor(errors: InputError[]) {
    super(errors.map((e) => e.format()).join('\n'));
    this.name = 'InputErrors';
    this.errors = errors;
  }
}

export class StageFailure extends Error {
  constructor(
    readonly stage: string,
    /** what went wrong, without the stage: the run's messages name the stage already */
    readonly detail: string,
  ) {
    super(`stage ${stage} failed: ${detail}`);
    this.name = 'StageFailure';
  }
}
