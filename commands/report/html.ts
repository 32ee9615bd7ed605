// One self-contained HTML file: inline CSS, plots as inline SVG, thumbnails as data:
// URIs, no script and no outside reference (thumbnails link to their image files by a
// relative path), so it opens offline from a file:// URL and can be mailed around. It
// opens on a summary (images, failures and their errors, verdicts, the last run);
// sections whose tables do not exist yet say what to run instead.
import { dirname, relative, sep } from 'node:path';
import { writeFileAtomic } from '../../src/atomic.js';
import type { Row, Sql } from '../../src/stage.js';
import { MissingTables, existingTables, runReport, type Report } from './sql.js';
import { loopSpec, renderSvg, scoreBinsSql, scoreDistributionSpec, successSpec } from './plots.js';
import { buildGrids, gridSql, type Grid, type GridImage } from './grids.js';
import { failedImagesHtml, readSummary, summaryHtml } from './summary.js';
import type { TableChanges } from './changes.js';
import { valueLabels, type ValueLabel } from './labels.js';
import { reportStyle } from './style.js';

export interface HtmlReportOptions {
  projectDir: string;
  sql: Sql;
  reports: Map<string, Report>;
  /** --param values; each report takes the ones it declares */
  params?: Record<string, string>;
  /** best and worst images shown per variation value */
  perValue?: number;
  thumbnailSize?: number;
  /** where the file goes: thumbnails link to their images relative to it (default: the project) */
  reportDir?: string;
  now?: Date;
}

export interface HtmlReport {
  html: string;
  /** why a section is empty: tables to make first */
  notes: string[];
  /** what the last run that committed a stage changed in each table */
  changes: TableChanges | null;
}

const escapeHtml = (text: unknown) =>
  String(text ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function cell(value: unknown): string {
  if (typeof value === 'number' && !Number.isInteger(value)) return value.toFixed(3);
  if (value !== null && typeof value === 'object') return escapeHtml(JSON.stringify(value));
  return escapeHtml(value);
}

/** Rows as a table; the column the report sorts by (the first word of its `@sort`) is marked. */
function htmlTable(rows: Row[], sort: string | null): string {
  if (rows.length === 0) return '<p class="empty">No rows.</p>';
  const columns = Object.keys(rows[0]);
  const sortedBy = sort?.split(/[\s,]/)[0];
  const head = columns.map((c) => (c === sortedBy ? `<th class="sorted" title="sorted by this column">${escapeHtml(c)} ⇅</th>` : `<th>${escapeHtml(c)}</th>`)).join('');
  const td = (v: unknown) => (typeof v === 'number' ? `<td class="num">${cell(v)}</td>` : `<td>${cell(v)}</td>`);
  const body = rows.map((r) => `<tr>${columns.map((c) => td(r[c])).join('')}</tr>`).join('\n');
  return `<table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

const figure = (name: string, svg: string, legend: string) => `<figure class="plot" data-plot="${name}">${svg}<figcaption class="legend">${legend}</figcaption></figure>`;
const section = (id: string, title: string, body: string) => `<section id="${id}"><h2>${escapeHtml(title)}</h2>\n${body}\n</section>`;
const note = (messages: string[]) => messages.map((m) => `<p class="note">${escapeHtml(m)}</p>`).join('\n');

const successLegend = 'Bar: the share of images whose top-scored value was the one asked for. Line: its 95% Wilson interval. n: the images scored.';
const scoresLegend = 'p_target: the scorer\'s probability for the asked-for value against the axis\'s other values; green where that value came out on top (matched), red where another did.';
const gridLegend = `<p class="legend">Best: the value's successes (its top-scored value is the one asked for) with the highest p_target. Worst: its failures (✗: another value scored higher) with the lowest.
The number is p_target, from 0 to 1. Click a picture to open the image; the id under it is what <code>pipeline label &lt;id&gt; &lt;axis&gt;=&lt;value&gt;</code> takes (hover for the whole command).</p>`;

function thumbHtml(img: GridImage, grid: Grid, kind: 'best' | 'worst', linkOf: (file: string) => string): string {
  const command = `pipeline label ${img.imageId} ${grid.axis}=${grid.value}`;
  const caption = `${img.pTarget.toFixed(2)}${img.matched ? '' : ' ✗'}<code class="id" title="${escapeHtml(command)}">${escapeHtml(img.imageId)}</code>`;
  const picture = img.thumbnail
    ? `<img src="${img.thumbnail}" alt="${escapeHtml(img.filename)}" title="${escapeHtml(img.filename)}">`
    : `<div class="missing" title="${escapeHtml(img.filename)}">file missing</div>`;
  const linked = img.file ? `<a href="${escapeHtml(linkOf(img.file))}">${picture}</a>` : picture;
  return `<figure class="thumb ${kind}" data-image-id="${escapeHtml(img.imageId)}" data-p="${img.pTarget}">${linked}<figcaption>${caption}</figcaption></figure>`;
}

function gridHtml(grid: Grid, label: ValueLabel, linkOf: (file: string) => string): string {
  const row = (list: GridImage[], kind: 'best' | 'worst', none: string) =>
    `<div class="row ${kind}"><span class="label">${kind}</span>${list.map((img) => thumbHtml(img, grid, kind, linkOf)).join('') || `<span class="empty">${none}</span>`}</div>`;
  return `<div class="grid" data-axis="${escapeHtml(grid.axis)}" data-value="${escapeHtml(grid.value)}">
<h3>${escapeHtml(grid.axis)}: ${escapeHtml(label(grid.axis, grid.value))}</h3>
${row(grid.best, 'best', '(no success: no image showed this value)')}
${row(grid.worst, 'worst', '(no failure)')}
</div>`;
}

/** A relative link from the report's folder, each path segment URL-encoded. */
function linker(reportDir: string): (file: string) => string {
  return (file) => relative(reportDir, file).split(sep).map(encodeURIComponent).join('/');
}

export async function buildHtmlReport(options: HtmlReportOptions): Promise<HtmlReport> {
  const { sql, reports, params = {} } = options;
  const notes: string[] = [];
  const existing = await existingTables(sql);
  const ran = new Map<string, Row[] | null>();
  const report = async (name: string): Promise<Row[] | null> => {
    const r = reports.get(name);
    if (!r) {
      notes.push(`report ${name} is not in any reports folder`);
      return null;
    }
    try {
      ran.set(name, await runReport(sql, r, params));
    } catch (error) {
      if (!(error instanceof MissingTables)) throw error;
      notes.push(...error.messages);
      ran.set(name, null);
    }
    return ran.get(name)!;
  };
  const table = (name: string, before = '') => {
    const rows = ran.get(name);
    if (!rows) return note(notes.filter((n) => n.includes(`report ${name} `)));
    const sort = reports.get(name)?.sort ?? null;
    return `${before}${sort ? `<p class="sort">Sorted by ${escapeHtml(sort)}.</p>` : ''}${htmlTable(rows, sort)}`;
  };
  const has = (...tables: string[]) => tables.every((t) => existing.has(t));
  const label = await valueLabels(sql, existing);

  const success = await report('variation_success');
  await report('failing_variations');
  await report('sessions');
  await report('quality');
  await report('models');
  // A benchmark from `pipeline run` stands in for loop rounds not recorded yet.
  const loop = has('loop_rounds') || !has('benchmark_summary') ? await report('loop_history') : null;
  const summary = await readSummary(sql, existing);
  const bins = has('scores') ? await sql(scoreBinsSql) : null;
  const grids = has('scores', 'images')
    ? await buildGrids(await sql(gridSql, { per: options.perValue ?? 4 }), options.projectDir, options.thumbnailSize ?? 128)
    : null;
  if (!grids) notes.push('the image grids need tables scores and images: run `pipeline run score` first');
  const linkOf = linker(options.reportDir ?? options.projectDir);

  const sections = [
    section('summary', 'Summary', summary ? summaryHtml(summary, escapeHtml) : note(['no images yet: run `pipeline run` first'])),
    section('failed', 'Failed images', summary ? failedImagesHtml(summary, escapeHtml) : ''),
    section('success', 'Success by variation value', success ? table('variation_success', figure('success', await renderSvg(successSpec(success, label)), successLegend)) : table('variation_success')),
    section('failing', 'Variations that fail most', table('failing_variations')),
    section('scores', 'Score distributions', bins ? figure('scores', await renderSvg(scoreDistributionSpec(bins)), scoresLegend) : note(['no scores yet: run `pipeline run score` first'])),
    section('sessions', 'Sessions', table('sessions')),
    section('quality', 'Blank, blurred and duplicate images', table('quality')),
    section('models', 'Models and LoRAs', table('models')),
    section('loop', 'The loop over rounds', await loopHtml(sql, existing, loop, table)),
    section('grids', 'Best and worst images per variation value', grids ? gridLegend + grids.map((g) => gridHtml(g, label, linkOf)).join('\n') : note(notes.slice(-1))),
  ];
  const generated = (options.now ?? new Date()).toISOString();
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>sdloop report</title>
<link rel="icon" href="data:,"><style>${reportStyle}</style></head>
<body><h1>sdloop report</h1><p class="meta">Generated ${escapeHtml(generated)} from ${escapeHtml(options.projectDir)}</p>
${sections.join('\n')}
</body></html>
`;
  return { html, notes, changes: summary?.changes ?? null };
}

/** Loop rounds when `pipeline loop` ran; else the benchmark that `pipeline run` made, if any. */
async function loopHtml(sql: Sql, existing: Set<string>, loop: Row[] | null, table: (name: string) => string): Promise<string> {
  if (loop) return figure('loop', await renderSvg(loopSpec(loop)), 'Benchmark adherence without (baseline) and with each round\'s LoRA; the point shape is the verdict.') + table('loop_history');
  if (!existing.has('benchmark_summary')) return table('loop_history');
  const rows = await sql('SELECT lora, pairs, baseline_adherence, candidate_adherence, difference, diff_ci_low, diff_ci_high, p_value, verdict, reason FROM benchmark_summary');
  return `<p>No loop rounds recorded yet (<code>pipeline loop</code> records them); the benchmark of the current LoRA:</p>${htmlTable(rows, null)}`;
}

/** Build the report and write it atomically, so a reader never opens half a file. */
export async function writeHtmlReport(file: string, options: HtmlReportOptions): Promise<HtmlReport> {
  const report = await buildHtmlReport({ reportDir: dirname(file), ...options });
  await writeFileAtomic(file, report.html);
  return report;
}
