// Query results as the user asked to see them: an aligned text table for people, CSV
// for spreadsheets, JSON for scripts. Rows come from DuckDB's JSON conversion:
// timestamps arrive as strings, lists as arrays.
import type { Row } from './stage.js';

export const outputFormats = ['table', 'csv', 'json'] as const;
export type OutputFormat = (typeof outputFormats)[number];

function cellText(value: unknown, decimals: boolean): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') return decimals ? value.toFixed(4) : String(value);
  if (typeof value === 'bigint' || typeof value === 'boolean' || typeof value === 'string') return String(value);
  return JSON.stringify(value);
}

function columnsOf(rows: Row[]): string[] {
  return [...new Set(rows.flatMap((row) => Object.keys(row)))];
}

const numeric = /^-?\d+(\.\d+)?(e[+-]?\d+)?$/i;

export function formatTable(rows: Row[]): string {
  if (rows.length === 0) return '(no rows)\n';
  const columns = columnsOf(rows);
  // A column with any fractional number shows all its numbers to 4 places, so 1 and 0.4 line up.
  const decimals = columns.map((c) => rows.some((row) => typeof row[c] === 'number' && !Number.isInteger(row[c])));
  const cells = rows.map((row) => columns.map((c, i) => cellText(row[c], decimals[i])));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i].length)));
  const rightAligned = columns.map((_, i) => cells.every((r) => r[i] === '' || numeric.test(r[i])));
  const line = (values: string[]) =>
    values
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
  return lines.join('\r\n') + '\r\n';
}

export function formatJson(rows: Row[]): string {
  return JSON.stringify(rows, (_key, v) => (typeof v === 'bigint' ? v.toString() : v), 2) + '\n';
}

export function formatRows(rows: Row[], format: OutputFormat): string {
  if (format === 'csv') return formatCsv(rows);
  if (format === 'json') return formatJson(rows);
  return formatTable(rows);
}
