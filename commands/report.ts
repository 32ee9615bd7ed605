// `pipeline report` runs the SQL files in reports/ (or writes the HTML report). The
// heavy parts (vega, sharp) load only when the command runs: the engine imports this
// module on every invocation.
import { resolve } from 'node:path';
import { defineCommand, examples, type CommandContext } from '../src/command.js';
import { InputError, InputErrors, shownPath } from '../src/errors.js';
import { writeJsonEnvelope } from '../src/json-output.js';
import { MissingTables, loadReports, parseParamArgs, reportDirs, runReport, unknownParams, type Report } from './report/sql.js';
import { formatRows, outputFormats, type OutputFormat } from '../src/format.js';

function listReports(reports: Map<string, Report>, ctx: CommandContext, json: boolean): number {
  if (json) {
    const listed = [...reports.values()].map((r) => ({ name: r.name, summary: r.summary, params: r.params.map((p) => ({ name: p.name, default: p.default, description: p.description })) }));
    return writeJsonEnvelope('report', 0, { reports: listed }, ctx.stdout);
  }
  const width = Math.max(0, ...[...reports.keys()].map((n) => n.length));
  for (const report of reports.values()) {
    ctx.stdout(`${report.name.padEnd(width)}  ${report.summary}\n`);
    if (report.sort) ctx.stdout(`${' '.repeat(width)}    sorted by ${report.sort}\n`);
    for (const p of report.params) ctx.stdout(`${' '.repeat(width)}    --param ${p.name}=${p.default === '' ? "''" : p.default}  ${p.description}\n`);
  }
  ctx.stdout(`\nRun one with: pipeline report <name> [--format table|csv|json] [--param name=value]\n`);
  return 0;
}

function checkParams(reports: Report[], given: Record<string, string>): void {
  const unknown = unknownParams(reports, given);
  if (unknown.length === 0) return;
  const known = [...new Set(reports.flatMap((r) => r.params.map((p) => p.name)))];
  throw new InputError(`unknown parameter ${unknown.join(', ')}: expected one of ${known.join(', ') || '(this report takes none)'}`, { field: '--param' });
}

/** A report over a table no run has made yet is bad input (exit 2): the message says which stage makes it. */
async function runOne(name: string, options: ReportOptions, given: Record<string, string>, reports: Map<string, Report>, ctx: CommandContext): Promise<number> {
  const report = reports.get(name);
  if (!report) throw new InputError(`unknown report ${JSON.stringify(name)}: expected one of ${[...reports.keys()].join(', ')}`, { field: 'name' });
  checkParams([report], given);
  const rows = await runReport(ctx.sql, report, given).catch((error: unknown) => {
    throw error instanceof MissingTables ? new InputErrors(error.messages.map((m) => new InputError(m))) : error;
  });
  if (options.json) return writeJsonEnvelope('report', 0, { report: name, rows }, ctx.stdout);
  ctx.stdout(formatRows(rows, options.format));
  return 0;
}

async function writeHtml(file: string, json: boolean, given: Record<string, string>, reports: Map<string, Report>, ctx: CommandContext): Promise<number> {
  checkParams([...reports.values()], given);
  const { writeHtmlReport } = await import('./report/html.js');
  const target = resolve(file);
  const { notes, changes } = await writeHtmlReport(target, { projectDir: ctx.projectDir, sql: ctx.sql, reports, params: given });
  if (json) return writeJsonEnvelope('report', 0, { html: target, notes, changes }, ctx.stdout);
  for (const n of notes) ctx.stderr(`note: ${n}\n`);
  ctx.stdout(`wrote ${shownPath(ctx.projectDir, target)}\n`);
  return 0;
}

interface ReportOptions {
  format: OutputFormat;
  param: string[];
  html?: string;
  json?: boolean;
}

const collect = (value: string, previous: string[]) => [...previous, value];

export default defineCommand<ReportOptions>({
  name: 'report',
  summary: 'run a report from reports/*.sql, or write the HTML report with plots and image grids',
  // Report files and their params are SQL a person wrote: they run in the sandbox, beside a run too.
  reads: 'files',
  configure(cli) {
    cli
      .argument('[name]', 'the report to run (default: list the reports and their parameters)')
      .addOption(cli.createOption('--format <format>', 'how to print the rows').choices(outputFormats).default('table'))
      .option('--param <name=value>', 'a report parameter (repeatable)', collect, [])
      .option('--html <file>', 'write every report, with plots and image grids, into one HTML file')
      .option('--json', 'print the rows (or the list of reports, or the file written) as JSON')
      .addHelpText('after', examples(
        'pipeline report',
        'pipeline report variation_success --format csv',
        'pipeline report sessions --param since=2026-11-01',
        'pipeline report --html report.html',
      ));
  },
  async run({ args, options }, ctx) {
    const reports = await loadReports(reportDirs(ctx.projectDir));
    const given = parseParamArgs(options.param);
    if (options.html !== undefined) {
      if (args.length > 0) throw new InputError('expected either a report name or --html, not both', { field: '--html' });
      return writeHtml(options.html, Boolean(options.json), given, reports, ctx);
    }
    if (args.length === 0) return listReports(reports, ctx, Boolean(options.json));
    return runOne(args[0]!, options, given, reports, ctx);
  },
});
