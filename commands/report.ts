// `pipeline report` runs the SQL files in reports/ (or writes the HTML report). The
// heavy parts (vega, sharp) load only when the command runs: the engine imports this
// module on every invocation.
import { resolve } from 'node:path';
import { defineCommand, examples, type CommandContext } from '../src/command.js';
import { InputError } from '../src/errors.js';
import { MissingTables, loadReports, parseParamArgs, reportDirs, runReport, unknownParams, type Report } from './report/sql.js';
import { formatRows, outputFormats, type OutputFormat } from '../src/format.js';

function listReports(reports: Map<string, Report>, ctx: CommandContext): number {
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

async function runOne(name: string, format: OutputFormat, given: Record<string, string>, reports: Map<string, Report>, ctx: CommandContext): Promise<number> {
  const report = reports.get(name);
  if (!report) throw new InputError(`unknown report ${JSON.stringify(name)}: expected one of ${[...reports.keys()].join(', ')}`, { field: 'name' });
  checkParams([report], given);
  try {
    ctx.stdout(formatRows(await runReport(ctx.sql, report, given), format));
    return 0;
  } catch (error) {
    if (!(error instanceof MissingTables)) throw error;
    for (const message of error.messages) ctx.stderr(`${message}\n`);
    return 1;
  }
}

async function writeHtml(file: string, given: Record<string, string>, reports: Map<string, Report>, ctx: CommandContext): Promise<number> {
  checkParams([...reports.values()], given);
  const { writeHtmlReport } = await import('./report/html.js');
  const target = resolve(file);
  const { notes } = await writeHtmlReport(target, { projectDir: ctx.projectDir, sql: ctx.sql, reports, params: given });
  for (const n of notes) ctx.stderr(`note: ${n}\n`);
  ctx.stdout(`wrote ${target}\n`);
  return 0;
}

interface ReportOptions {
  format: OutputFormat;
  param: string[];
  html?: string;
}

const collect = (value: string, previous: string[]) => [...previous, value];

export default defineCommand<ReportOptions>({
  name: 'report',
  summary: 'run a report from reports/*.sql, or write the HTML report with plots and image grids',
  configure(cli) {
    cli
      .argument('[name]', 'the report to run (default: list the reports and their parameters)')
      .addOption(cli.createOption('--format <format>', 'how to print the rows').choices(outputFormats).default('table'))
      .option('--param <name=value>', 'a report parameter (repeatable)', collect, [])
      .option('--html <file>', 'write every report, with plots and image grids, into one HTML file')
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
      return writeHtml(options.html, given, reports, ctx);
    }
    if (args.length === 0) return listReports(reports, ctx);
    return runOne(args[0]!, options.format, given, reports, ctx);
  },
});
