// `pipeline report` runs the SQL files in reports/ (or writes the HTML report) and
// `pipeline prune` moves images a predicate picks into the trash and back. The heavy
// parts (vega, sharp) load only when a command runs: the engine imports this module
// on every invocation.
import { join, relative, resolve } from 'node:path';
import { defineCommand, parseCommandArgs, type CommandContext } from '../src/command.js';
import { InputError } from '../src/errors.js';
import { MissingTables, loadReports, parseParamArgs, reportDirs, runReport, unknownParams, type Report } from './report/sql.js';
import { formatRows, outputFormats, type OutputFormat } from '../src/format.js';

function listReports(reports: Map<string, Report>, ctx: CommandContext): number {
  const width = Math.max(0, ...[...reports.keys()].map((n) => n.length));
  for (const report of reports.values()) {
    ctx.stdout(`${report.name.padEnd(width)}  ${report.summary}\n`);
    for (const p of report.params) ctx.stdout(`${' '.repeat(width)}    --param ${p.name}=${p.default === '' ? "''" : p.default}  ${p.description}\n`);
  }
  ctx.stdout(`\nRun one with: pipeline report <name> [--format table|csv|json] [--param name=value]\n`);
  return 0;
}

function checkFormat(format: string): OutputFormat {
  if ((outputFormats as readonly string[]).includes(format)) return format as OutputFormat;
  throw new InputError(`expected one of ${outputFormats.join(', ')}, got ${JSON.stringify(format)}`, { field: '--format' });
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

const report = defineCommand({
  name: 'report',
  summary: 'Run a report from reports/*.sql, or write the HTML report with plots and image grids',
  usage: 'pipeline report [name] [--format table|csv|json] [--param name=value]... | pipeline report --html FILE [--param name=value]...',
  async run(args, ctx) {
    const { values, positionals } = parseCommandArgs({
      args,
      allowPositionals: true,
      options: { format: { type: 'string', default: 'table' }, param: { type: 'string', multiple: true }, html: { type: 'string' } },
    });
    const reports = await loadReports(reportDirs(ctx.projectDir));
    const given = parseParamArgs(values.param ?? []);
    if (positionals.length > 1) throw new InputError(`expected at most one report name, got ${positionals.join(' ')}`, { field: 'name' });
    if (values.html !== undefined) {
      if (positionals.length > 0) throw new InputError('expected either a report name or --html, not both', { field: '--html' });
      return writeHtml(values.html, given, reports, ctx);
    }
    if (positionals.length === 0) return listReports(reports, ctx);
    return runOne(positionals[0], checkFormat(values.format), given, reports, ctx);
  },
});

const prune = defineCommand({
  name: 'prune',
  summary: 'Move images a SQL predicate over quality/scores picks into data/trash (lists them unless --apply); --restore brings them back',
  usage: 'pipeline prune --where "<predicate>" [--apply] | pipeline prune --restore [--batch NAME]',
  async run(args, ctx) {
    const { values } = parseCommandArgs({
      args,
      options: { where: { type: 'string' }, apply: { type: 'boolean', default: false }, restore: { type: 'boolean', default: false }, batch: { type: 'string' } },
    });
    const { planPrune, applyPrune, restorePrune } = await import('./prune.js');
    const pruneCtx = { projectDir: ctx.projectDir, dataDir: ctx.dataDir, sql: ctx.sql };
    if (values.restore) {
      if (values.where !== undefined || values.apply) throw new InputError('expected --restore alone (with an optional --batch)', { field: '--restore' });
      const { restored, skipped } = await restorePrune(pruneCtx, values.batch);
      for (const { item, reason } of skipped) ctx.stderr(`kept in trash: ${item.file}: ${reason}\n`);
      ctx.stdout(`restored ${restored.length} image${restored.length === 1 ? '' : 's'}\n`);
      return 0;
    }
    if (values.where === undefined) throw new InputError('expected --where "<SQL predicate>" (e.g. "quality.blurred") or --restore', { field: '--where' });
    const candidates = await planPrune(pruneCtx, values.where);
    const plural = (n: number) => `${n} image${n === 1 ? '' : 's'}`;
    const kept = candidates.filter((c) => c.imported).length;
    const keptNote = kept ? `; ${plural(kept)} imported: your files stay where they are, left out of the tables (run \`pipeline run\`)` : '';
    if (!values.apply) {
      for (const c of candidates) ctx.stdout(`${c.file}  ${c.image_id}${c.imported ? '  (imported: not moved)' : ''}\n`);
      ctx.stdout(`would move ${plural(candidates.length - kept)} to ${relative(ctx.projectDir, join(ctx.dataDir, 'trash'))}/${keptNote} (nothing done; add --apply)\n`);
      return 0;
    }
    const record = await applyPrune(pruneCtx, values.where, candidates);
    const batchDir = relative(ctx.projectDir, join(ctx.dataDir, 'trash', record.batch));
    ctx.stdout(`moved ${plural(record.items.length - kept)} to ${batchDir}/${keptNote} (record: ${batchDir}/record.json); undo with: pipeline prune --restore --batch ${record.batch}\n`);
    return 0;
  },
});

export default [report, prune];
