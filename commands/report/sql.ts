// Report files are plain SQL that users read and extend, so everything the runner needs
// to know (summary, tables it reads, named parameters with defaults) lives in the
// leading comment block, not in a side file:
//
//   -- <one-line summary: what the report answers>
//   -- <more comment lines, free text>
//   -- @needs scores, prompts
//   -- @param since timestamp 1970-01-01 only sessions started on or after this
//   -- @sort started, newest last
//   SELECT ... WHERE started >= CAST($since AS TIMESTAMP)
//
// Parameters are DuckDB prepared-statement named parameters (`$name`); the runner binds
// every declared one (its default unless --param overrides it). DuckDB rejects a bound
// name the query does not use, so declarations and uses are checked to match at load.
// In the duckdb CLI the same text runs as `PREPARE r AS <query>; EXECUTE r(since := '...')`.
import type { Sql } from '../../src/stage.js';
import { readdir, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { InputError } from '../../src/errors.js';

/** SQL on the state database, as CommandContext.sql runs it (a prepared statement with named params). */

export const reportParamType = z.enum(['string', 'int', 'number', 'timestamp', 'boolean']);

export const reportParam = z.object({
  name: z.string().regex(/^[a-z_][a-z0-9_]*$/, 'a lower-case identifier'),
  type: reportParamType,
  /** as written in the header; `''` stands for the empty string */
  default: z.string(),
  description: z.string(),
});

export type ReportParam = z.infer<typeof reportParam>;
export type ParamValue = string | number | boolean;

export interface Report {
  name: string;
  file: string;
  summary: string;
  needs: string[];
  params: ReportParam[];
  /** what the rows are ordered by, in words naming the column (`@sort`), shown beside the table */
  sort: string | null;
  sql: string;
}

/** Which stage or command makes each table a report may read, for "run X first" messages. */
export const tableMakers: Record<string, string> = {
  prompts: 'pipeline run catalog',
  images: 'pipeline run catalog',
  variation_values: 'pipeline run catalog',
  sessions: 'pipeline run sessions',
  scores: 'pipeline run score',
  quality: 'pipeline run score',
  embeddings: 'pipeline run score',
  predictions: 'pipeline run classify',
  classifier_metrics: 'pipeline run classify',
  selection: 'pipeline run select',
  lora_info: 'pipeline run train',
  benchmark: 'pipeline run benchmark',
  benchmark_summary: 'pipeline run benchmark',
  benchmark_agreement: 'pipeline run benchmark',
  benchmark_diversity: 'pipeline run benchmark',
  loop_rounds: 'pipeline loop',
  promoted_loras: 'pipeline loop',
  labels: 'pipeline label',
  favourites: 'pipeline serve',
  session_notes: 'pipeline serve',
  pruned: 'pipeline prune --apply',
};

const paramLine = /^@param\s+(\S+)\s+(\S+)\s+(\S+)\s*(.*)$/;

function parseParam(text: string, file: string, line: number): ReportParam {
  const match = paramLine.exec(text);
  if (!match) {
    throw new InputError('expected `@param <name> <type> <default> <description>`', { file, line, field: '@param' });
  }
  const [, name, type, rawDefault, description] = match;
  const parsed = reportParam.safeParse({ name, type, default: rawDefault === "''" ? '' : rawDefault, description });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const expected = issue.path[0] === 'type' ? `one of ${reportParamType.options.join(', ')}` : issue.message;
    throw new InputError(`expected ${String(issue.path[0])} to be ${expected}`, { file, line, field: '@param' });
  }
  coerceParam(parsed.data, parsed.data.default, { file, line });
  return parsed.data;
}

/** `$name` uses in the body, ignoring comments and string literals. */
function usedParams(body: string): Set<string> {
  // One left-to-right pass, so a quote inside a comment or `--` inside a string is not misread.
  const code = body.replace(/'(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*/g, ' ');
  return new Set([...code.matchAll(/\$([a-z_][a-z0-9_]*)/gi)].map((m) => m[1]));
}

export function parseReport(file: string, text: string): Report {
  const lines = text.split('\n');
  let headerEnd = 0;
  while (headerEnd < lines.length && /^\s*--/.test(lines[headerEnd])) headerEnd++;
  const comments = lines.slice(0, headerEnd).map((l) => l.replace(/^\s*--\s?/, '').trim());
  const summary = comments[0] ?? '';
  if (!summary || summary.startsWith('@')) {
    throw new InputError('expected the first line to be a `-- <summary>` comment saying what the report answers', { file, line: 1 });
  }
  const needs: string[] = [];
  const params: ReportParam[] = [];
  let sort: string | null = null;
  comments.forEach((comment, i) => {
    if (comment.startsWith('@needs')) needs.push(...comment.slice(6).split(',').map((t) => t.trim()).filter(Boolean));
    else if (comment.startsWith('@sort')) sort = comment.slice(5).trim() || null;
    else if (comment.startsWith('@param')) params.push(parseParam(comment, file, i + 1));
  });
  const sql = lines.slice(headerEnd).join('\n').trim().replace(/;\s*$/, '');
  if (!sql) throw new InputError('expected one SQL query after the header comment', { file, line: headerEnd + 1 });
  checkParamUses(file, params, usedParams(sql));
  return { name: basename(file, '.sql'), file, summary, needs, params, sort, sql };
}

function checkParamUses(file: string, params: ReportParam[], used: Set<string>): void {
  const declared = new Set(params.map((p) => p.name));
  for (const name of used) {
    if (!declared.has(name)) throw new InputError(`$${name} is used but not declared: expected a \`-- @param ${name} <type> <default> <description>\` header line`, { file, field: name });
  }
  for (const name of declared) {
    if (!used.has(name)) throw new InputError(`@param ${name} is declared but the query never uses $${name}`, { file, field: name });
  }
}

/** Folders searched for reports: the project's own first, then the ones shipped with sdloop. */
export function reportDirs(projectDir: string): string[] {
  const shipped = ['../../reports', '../../../reports'].map((rel) => fileURLToPath(new URL(rel, import.meta.url)));
  return [...new Set([join(projectDir, 'reports'), ...shipped])].filter((dir) => existsSync(dir));
}

/** Every report by name; a project's file overrides a shipped one of the same name. */
export async function loadReports(dirs: string[]): Promise<Map<string, Report>> {
  const reports = new Map<string, Report>();
  for (const dir of dirs) {
    for (const entry of (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort()) {
      const file = join(dir, entry);
      const report = parseReport(file, await readFile(file, 'utf8'));
      if (!reports.has(report.name)) reports.set(report.name, report);
    }
  }
  return reports;
}

function coerceParam(param: ReportParam, raw: string, where: { file?: string; line?: number }): ParamValue {
  const fail = (expected: string): never => {
    throw new InputError(`expected ${expected}, got ${JSON.stringify(raw)}`, { ...where, field: param.name });
  };
  switch (param.type) {
    case 'int':
      return /^-?\d+$/.test(raw) ? Number(raw) : fail('an integer');
    case 'number':
      return raw.trim() !== '' && Number.isFinite(Number(raw)) ? Number(raw) : fail('a number');
    case 'boolean':
      return raw === 'true' ? true : raw === 'false' ? false : fail('true or false');
    case 'timestamp':
      return /^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$/.test(raw) && !Number.isNaN(Date.parse(raw))
        ? raw
        : fail('a date or timestamp like 2026-11-01 or 2026-11-01T12:00:00');
    default:
      return raw;
  }
}

/** `k=v` strings from --param, split at the first `=`. */
export function parseParamArgs(args: string[]): Record<string, string> {
  const values: Record<string, string> = {};
  for (const arg of args) {
    const eq = arg.indexOf('=');
    if (eq <= 0) throw new InputError(`expected --param name=value, got ${JSON.stringify(arg)}`, { field: '--param' });
    values[arg.slice(0, eq)] = arg.slice(eq + 1);
  }
  return values;
}

/** Values for every parameter the report declares: given ones coerced, the rest defaulted. */
export function bindParams(report: Report, given: Record<string, string>): Record<string, ParamValue> {
  return Object.fromEntries(
    report.params.map((p) => [p.name, coerceParam(p, given[p.name] ?? p.default, { file: report.file })]),
  );
}

/** Names in `given` that no report in `reports` declares: typos the user should hear about. */
export function unknownParams(reports: Report[], given: Record<string, string>): string[] {
  const known = new Set(reports.flatMap((r) => r.params.map((p) => p.name)));
  return Object.keys(given).filter((name) => !known.has(name));
}

/** Tables and views present in the state database. */
export async function existingTables(sql: Sql): Promise<Set<string>> {
  const rows = await sql('SELECT table_name FROM information_schema.tables');
  return new Set(rows.map((r) => String(r.table_name)));
}

/** "report X needs table Y: run Z first" for each table the report reads that does not exist yet. */
export function missingTableMessages(report: Report, existing: Set<string>): string[] {
  return report.needs
    .filter((table) => !existing.has(table))
    .map((table) => {
      const maker = tableMakers[table];
      const hint = maker ? `run \`${maker}\` first` : 'no known stage makes it';
      return `report ${report.name} needs table ${table}, which does not exist yet: ${hint}`;
    });
}

/** The report cannot run yet because tables it reads have not been made. */
export class MissingTables extends Error {
  constructor(readonly messages: string[]) {
    super(messages.join('\n'));
    this.name = 'MissingTables';
  }
}

/** Run one report with `given` overriding its parameter defaults. */
export async function runReport(sql: Sql, report: Report, given: Record<string, string> = {}): Promise<Record<string, unknown>[]> {
  const missing = missingTableMessages(report, await existingTables(sql));
  if (missing.length > 0) throw new MissingTables(missing);
  return sql(report.sql, bindParams(report, given));
}
