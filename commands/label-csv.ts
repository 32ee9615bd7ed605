// The bulk form of `pipeline label`: a CSV with a header naming the columns image_id,
// axis, value, reject (any order; axis/value/reject may be absent). Every bad line is
// reported at once, with its line and column.
import { InputError, InputErrors } from '../src/errors.js';
import type { LabelRow } from '../schemas/tables.js';

/** A label as given, with where it was written (for error messages). */
export type NewLabel = Omit<LabelRow, 'created_at'> & { line?: number; file?: string };

const COLUMNS = ['image_id', 'axis', 'value', 'reject'] as const;
const TRUE = new Set(['true', '1', 'yes', 'y']);
const FALSE = new Set(['false', '0', 'no', 'n', '']);

/** RFC 4180 fields of one line (quotes double to escape), with each field's 1-based column. */
export function splitCsvLine(line: string): { text: string; col: number }[] {
  const fields: { text: string; col: number }[] = [];
  let i = 0;
  while (i <= line.length) {
    const col = i + 1;
    let text = '';
    if (line[i] === '"') {
      i++;
      while (i < line.length && !(line[i] === '"' && line[i + 1] !== '"')) {
        text += line[i];
        i += line[i] === '"' ? 2 : 1;
      }
      i++;
      if (i < line.length && line[i] !== ',') throw new Error(`unexpected text after a closing quote at column ${i + 1}`);
    } else {
      const end = line.indexOf(',', i);
      text = line.slice(i, end < 0 ? line.length : end);
      i = end < 0 ? line.length : end;
    }
    fields.push({ text: text.trim(), col });
    i++;
  }
  return fields;
}

function headerOf(cells: { text: string }[], file: string): Map<string, number> {
  const index = new Map(cells.map((c, i) => [c.text.toLowerCase(), i]));
  if (!index.has('image_id')) {
    throw new InputError(`expected a header line naming the columns ${COLUMNS.join(',')}`, { file, line: 1, field: 'image_id' });
  }
  return index;
}

export function parseLabelCsv(text: string, file: string): NewLabel[] {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const errors: InputError[] = [];
  const labels: NewLabel[] = [];
  const split = (line: string, n: number) => {
    try {
      return splitCsvLine(line);
    } catch (error) {
      errors.push(new InputError(`expected a CSV line: ${(error as Error).message}`, { file, line: n }));
      return null;
    }
  };
  const header = split(lines[0] ?? '', 1);
  if (!header) throw errors[0];
  const index = headerOf(header, file);
  lines.slice(1).forEach((line, k) => {
    const n = k + 2;
    if (!line.trim()) return;
    const cells = split(line, n);
    if (!cells) return;
    const cell = (name: string) => {
      const i = index.get(name);
      return i === undefined ? { text: '', col: 1 } : (cells[i] ?? { text: '', col: line.length + 1 });
    };
    const at = (name: string) => ({ file, line: n, col: cell(name).col, field: name });
    const [imageId, axis, value, reject] = COLUMNS.map((c) => cell(c).text);
    if (!imageId) return errors.push(new InputError('expected an image id', at('image_id')));
    if (!TRUE.has(reject.toLowerCase()) && !FALSE.has(reject.toLowerCase())) {
      return errors.push(new InputError(`expected reject to be true or false (or empty), got '${reject}'`, at('reject')));
    }
    if (TRUE.has(reject.toLowerCase())) return labels.push({ image_id: imageId, axis: null, value: null, reject: true, file, line: n });
    if (!axis) return errors.push(new InputError('expected an axis (or reject=true)', at('axis')));
    if (!value) return errors.push(new InputError('expected a value for the axis (or reject=true)', at('value')));
    labels.push({ image_id: imageId, axis, value, reject: false, file, line: n });
  });
  if (errors.length === 1) throw errors[0];
  if (errors.length) throw new InputErrors(errors);
  if (!labels.length) throw new InputError('expected at least one label line after the header', { file, line: 2 });
  return labels;
}
