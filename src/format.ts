// Query results as the user asked to see them: an aligned text table for people (fitted
// to the terminal), CSV for spreadsheets and shell pipes (`\n` line ends, so `tail -1`
// gives a clean value), JSON for scripts. Rows come from DuckDB's JSON conversion:
// timestamps arrive as strings, lists as arrays.
import type { Row } from './stage.js';

export const outputFormats = ['table', 'csv', 'json'] as const;
export type OutputFormat = (typeof outputFormats)[number];

/** A value on one line: newlines and tabs in it would break the table's rows and columns. */
const escapeControl = (text: string) => text.replace(/\r/g, '\\r').replace(/\n/g, '\\n').replace(/\t/g, '\\t');

function cellText(value: unknown, decimals: boolean): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') return decimals ? value.toFixed(4) : String(value);
  if (typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  return escapeControl(typeof value === 'string' ? value : JSON.stringify(value));
}

/** The terminal's width when stdout is one, else $COLUMNS when set; undefined: print cells whole. */
export function terminalWidth(): number | undefined {
  if (process.stdout.isTTY && process.stdout.columns) return process.stdout.columns;
  const columns = Number(process.env.COLUMNS);
  return Number.isInteger(columns) && columns > 0 ? columns : undefined;
}

/** Columns narrowed, widest first, until the table fits `width`; none below `minimum`. */
function fitWidths(widths: number[], width: number | undefined, minimum = 4): number[] {
  if (width === undefined) return widths;
  const fitted = [...widths];
  let total = fitted.reduce((a, b) => a + b, 0) + 2 * (fitted.length - 1);
  while (total > width) {
    const widest = fitted.indexOf(Math.max(...fitted));
    if (fitted[widest]! <= minimum) break;
    fitted[widest]! -= 1;
    total -= 1;
  }
  return fitted;
}

const truncate = (text: string, width: number) => (text.length > width ? `${text.slice(0, width - 1)}…` : text);

function columnsOf(rows: Row[]): string[] {
  return [...new Set(rows.flatMap((row) => Object.keys(row)))];
}

const numeric = /^-?\d+(\.\d+)?(e[+-]?\d+)?$/i;

/** An aligned table; with `width`, wide columns are cut (ending in …) so each line fits it. */
export function formatTable(rows: Row[], width?: number): string {
  if (rows.length === 0) return '(no rows)\n';
  const columns = columnsOf(rows);
  // A column with any fractional number shows all its numbers to 4 places, so 1 and 0.4 line up.
  const decimals = columns.map((c) => rows.some((row) => typeof row[c] === 'number' && !Number.isInteger(row[c])));
  const cells = rows.map((row) => columns.map((c, i) => cellText(row[c], decimals[i])));
  const widths = fitWidths(columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i].length))), width);
  const rightAligned = columns.map((_, i) => cells.every((r) => r[i] === '' || numeric.test(r[i])));
  const line = (values: string[]) =>
    values
      .map((v, i) => truncate(v, widths[i]))
      .map((v, i) => (rightAligned[i] ? v.padStart(widths[i]) : v.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(columns), rule, ...cells.map(line)].join('\n') + '\n';
}

function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = typeof value === 'object' ? JSON.stringify(value) : String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function formatCsv(rows: Row[]): string {
  const columns = columnsOf(rows);
  const lines = [columns.map(csvField).join(','), ...rows.map((row) => columns.map((c) => csvField(row[c])).join(','))];
  return lines.join('\n') + '\n';
}

export function formatJson(rows: Row[]): string {
  return JSON.stringify(rows, (_key, v) => (typeof v === 'bigint' ? v.toString() : v), 2) + '\n';
}

/** A text table fits the terminal (`width`); CSV and JSON are never cut. */
export function formatRows(rows: Row[], format: OutputFormat, width = terminalWidth()): string {
  if (format === 'csv') return formatCsv(rows);
  if (format === 'json') return formatJson(rows);
  return formatTable(rows, width);
}
