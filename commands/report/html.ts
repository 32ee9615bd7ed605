// One self-contained HTML file: inline CSS, plots as inline SVG, thumbnails as data:
// URIs, no script and no outside reference, so it opens offline from a file:// URL and
// can be mailed around. Sections whose tables do not exist yet say what to run instead.
import { writeFileAtomic } from '../../src/atomic.js';
import type { Row } from '../../src/stage.js';
import { MissingTables, existingTables, runReport, type Report } from './sql.js';
import type { Sql } from '../../src/stage.js';
import { loopSpec, renderSvg, scoreBinsSql, scoreDistributionSpec, successSpec } from './plots.js';
import { buildGrids, gridSql, type Grid } from './grids.js';

export interface HtmlReportOptions {
  projectDir: string;
  sql: Sql;
  reports: Map<string, Report>;
  /** --param values; each report takes the ones it declares */
  params?: Record<string, string>;
  /** best and worst images shown per variation value */
  perValue?: number;
  thumbnailSize?: number;
  now?: Date;
}

export interface HtmlReport {
  html: string;
  /** why a section is empty: tables to make first */
  notes: string[];
}

const escapeHtml = (text: unknown) =>
  String(text ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function cell(value: unknown): string {
  if (typeof value === 'number' && !Number.isInteger(value)) return value.toFixed(3);
  if (value !== null && typeof value === 'object') return escapeHtml(JSON.stringify(value));
  return escapeHtml(value);
}

function htmlTable(rows: Row[]): string {
  if (rows.length === 0) return '<p class="empty">No rows.</p>';
  const columns = Object.keys(rows[0]);
  const head = columns.map((c) => `<th>${escapeHtml(c)}</th>`).join('');
  const td = (v: unknown) => (typeof v === 'number' ? `<td class="num">${cell(v)}</td>` : `<td>${cell(v)}</td>`);
  const body = rows.map((r) => `<tr>${columns.map((c) => td(r[c])).join('')}</tr>`).join('\n');
  return `<table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

const figure = (name: string, svg: string) => `<figure class="plot" data-plot="${name}">${svg}</figure>`;
const section = (id: string, title: string, body: string) => `<section id="${id}"><h2>${escapeHtml(title)}</h2>\n${body}\n</section>`;
const note = (messages: string[]) => messages.map((m) => `<p class="note">${escapeHtml(m)}</p>`).join('\n');

function gridHtml(grid: Grid): string {
  const images = (list: Grid['best'], kind: string) =>
    list
      .map((img) => {
        const caption = `${img.pTarget.toFixed(2)}${img.matched ? '' : ' ✗'}`;
        const picture = img.thumbnail
          ? `<img src="${img.thumbnail}" alt="${escapeHtml(img.filename)}" title="${escapeHtml(img.filename)}">`
          : `<div class="missing" title="${escapeHtml(img.filename)}">file missing</div>`;
        return `<figure class="thumb ${kind}">${picture}<figcaption>${caption}</figcaption></figure>`;
      })
      .join('');
  return `<div class="grid" data-axis="${escapeHtml(grid.axis)}" data-value="${escapeHtml(grid.value)}">
<h3>${escapeHtml(grid.axis)}: ${escapeHtml(grid.value)}</h3>
<div class="row"><span class="label">best</span>${images(grid.best, 'best')}</div>
<div class="row"><span class="label">worst</span>${images(grid.worst, 'worst') || '<span class="empty">(all shown above)</span>'}</div>
</div>`;
}

const style = `
body{font:14px/1.4 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
h1{margin-bottom:0}.meta{color:#666}section{margin:2.5em 0}
table{border-collapse:collapse;font-size:12px}th,td{padding:2px 8px;border-bottom:1px solid #ddd;text-align:left}
td.num{text-align:right}.note{background:#fff4d6;padding:.5em 1em;border-left:4px solid #e0a800}
.grid{margin:1em 0}.row{display:flex;gap:6px;align-items:flex-end;flex-wrap:wrap}.label{width:3.5em;color:#666}
.thumb{margin:0;text-align:center;font-size:11px}.thumb img{display:block;border:1px solid #ccc}
.thumb.worst img{border-color:#c8553d}.missing{width:96px;height:64px;background:#eee;color:#999;font-size:10px}
.empty{color:#999}`;

export async function buildHtmlReport(options: HtmlReportOptions): Promise<HtmlReport> {
  const { sql, reports, params = {} } = options;
  const notes: string[] = [];
  const existing = await existingTables(sql);
  const report = async (name: string): Promise<Row[] | null> => {
    const r = reports.get(name);
    if (!r) {
      notes.push(`report ${name} is not in any reports folder`);
      return null;
    }
    try {
      return await runReport(sql, r, params);
    } catch (error) {
      if (!(error instanceof MissingTables)) throw error;
      notes.push(...error.messages);
      return null;
    }
  };
  const tableOrNote = (rows: Row[] | null, name: string) => (rows ? htmlTable(rows) : note(notes.filter((n) => n.includes(`report ${name} `))));
  const has = (...tables: string[]) => tables.every((t) => existing.has(t));

  const success = await report('variation_success');
  const failing = await report('failing_variations');
  const sessions = await report('sessions');
  const quality = await report('quality');
  const models = await report('models');
  const loop = await report('loop_history');
  const bins = has('scores') ? await sql(scoreBinsSql) : null;
  const grids = has('scores', 'images')
    ? await buildGrids(await sql(gridSql, { per: options.perValue ?? 4 }), options.projectDir, options.thumbnailSize ?? 128)
    : null;
  if (!grids) notes.push('the image grids need tables scores and images: run `pipeline run score` first');

  const sections = [
    section('success', 'Success by variation value', success ? figure('success', await renderSvg(successSpec(success))) + htmlTable(success) : tableOrNote(null, 'variation_success')),
    section('failing', 'Variations that fail most', tableOrNote(failing, 'failing_variations')),
    section('scores', 'Score distributions', bins ? figure('scores', await renderSvg(scoreDistributionSpec(bins))) : note(['no scores yet: run `pipeline run score` first'])),
    section('sessions', 'Sessions', tableOrNote(sessions, 'sessions')),
    section('quality', 'Blank, blurred and duplicate images', tableOrNote(quality, 'quality')),
    section('models', 'Models and LoRAs', tableOrNote(models, 'models')),
    section('loop', 'The loop over rounds', loop ? figure('loop', await renderSvg(loopSpec(loop))) + htmlTable(loop) : tableOrNote(null, 'loop_history')),
    section('grids', 'Best and worst images per variation value', grids ? grids.map(gridHtml).join('\n') : note(notes.slice(-1))),
  ];
  const generated = (options.now ?? new Date()).toISOString();
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>sdloop report</title>
<link rel="icon" href="data:,"><style>${style}</style></head>
<body><h1>sdloop report</h1><p class="meta">Generated ${escapeHtml(generated)} from ${escapeHtml(options.projectDir)}</p>
${sections.join('\n')}
</body></html>
`;
  return { html, notes };
}

/** Build the report and write it atomically, so a reader never opens half a file. */
export async function writeHtmlReport(file: string, options: HtmlReportOptions): Promise<HtmlReport> {
  const report = await buildHtmlReport(options);
  await writeFileAtomic(file, report.html);
  return report;
}
