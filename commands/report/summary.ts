// The top of the HTML report: what a reader needs before any table. How many images there
// are and how many failed with which error (A1111's own text), the sessions' verdicts, the
// benchmark's last verdict, what the last run did and changed in each table, and the
// failed images one by one.
import type { Row, Sql } from '../../src/stage.js';
import { changesLine, readTableChanges, type TableChanges } from './changes.js';

export interface Summary {
  images: { total: number; ok: number; blank: number; failed: number };
  /** distinct error texts of failed images, most frequent first */
  errors: { error: string; images: number }[];
  verdicts: { complete: number; review: number } | null;
  benchmark: { lora: string; verdict: string; reason: string } | null;
  lastRun: { argv: string; started: string; status: string; stages: Row[] } | null;
  changes: TableChanges | null;
  pruned: number;
  failedImages: Row[];
}

const errorsSql = `
SELECT coalesce(nullif(trim(split_part(error, chr(10), 1)), ''), '(no error text recorded)') AS error, count(*)::INTEGER AS images
FROM images WHERE status = 'failed'
GROUP BY 1 ORDER BY images DESC, error LIMIT 10`;

const failedImagesSql = `
SELECT prompt_id, session_dir, filename, endpoint, error
FROM images WHERE status = 'failed'
ORDER BY session_dir, filename, prompt_id LIMIT $limit`;

const lastRunSql = `
SELECT run_id, argv, strftime(started_at, '%Y-%m-%d %H:%M:%S') AS started, status FROM runs
WHERE started_at IS NOT NULL ORDER BY started_at DESC LIMIT 1`;

const lastRunStagesSql = `
SELECT stage, status, items_run, items_reused, items_failed, round(duration_ms / 1000, 1) AS seconds,
       split_part(error, chr(10), 1) AS error
FROM stage_runs WHERE run_id = $run AND status <> 'skipped' ORDER BY started_at`;

export async function readSummary(sql: Sql, existing: Set<string>, failedLimit = 200): Promise<Summary | null> {
  if (!existing.has('images')) return null;
  const [counts] = await sql(`SELECT count(*)::INTEGER AS total,
      (count(*) FILTER (WHERE status = 'ok'))::INTEGER AS ok,
      (count(*) FILTER (WHERE status = 'blank'))::INTEGER AS blank,
      (count(*) FILTER (WHERE status = 'failed'))::INTEGER AS failed FROM images`);
  const verdicts = existing.has('sessions')
    ? (await sql(`SELECT (count(*) FILTER (WHERE verdict = 'complete'))::INTEGER AS complete, (count(*) FILTER (WHERE verdict = 'review'))::INTEGER AS review FROM sessions`))[0]
    : null;
  const benchmark = existing.has('benchmark_summary') ? (await sql('SELECT lora, verdict, reason FROM benchmark_summary LIMIT 1'))[0] ?? null : null;
  const run = existing.has('runs') && existing.has('stage_runs') ? (await sql(lastRunSql))[0] : undefined;
  const pruned = existing.has('pruned') ? Number((await sql('SELECT count(DISTINCT image_id)::INTEGER AS n FROM pruned WHERE restored_at IS NULL'))[0]?.n ?? 0) : 0;
  return {
    images: { total: Number(counts.total), ok: Number(counts.ok), blank: Number(counts.blank), failed: Number(counts.failed) },
    errors: (await sql(errorsSql)).map((r) => ({ error: String(r.error), images: Number(r.images) })),
    verdicts: verdicts ? { complete: Number(verdicts.complete), review: Number(verdicts.review) } : null,
    benchmark: benchmark ? { lora: String(benchmark.lora), verdict: String(benchmark.verdict), reason: String(benchmark.reason) } : null,
    lastRun: run ? { argv: String(run.argv), started: String(run.started), status: String(run.status), stages: await sql(lastRunStagesSql, { run: String(run.run_id) }) } : null,
    changes: await readTableChanges(sql, existing),
    pruned,
    failedImages: await sql(failedImagesSql, { limit: failedLimit }),
  };
}

type Escape = (text: unknown) => string;
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

function stageLine(stage: Row): string {
  const items = stage.items_run === null ? '' : `: ${stage.items_run} items run, ${stage.items_reused} reused, ${stage.items_failed} failed`;
  return `${stage.stage} ${stage.status}${items} (${stage.seconds} s)${stage.error ? `: ${stage.error}` : ''}`;
}

/** The summary as a definition list; every number a reader might act on links to its section. */
export function summaryHtml(summary: Summary, escape: Escape): string {
  const { images, errors, verdicts, benchmark, lastRun } = summary;
  const lines: [string, string][] = [];
  lines.push(['Images', `${images.total} in the images table: ${images.ok} ok, ${images.blank} blank, <a href="#failed">${images.failed} failed</a>${summary.pruned ? `; ${plural(summary.pruned, 'image')} pruned and left out` : ''}`]);
  if (errors.length > 0) {
    const list = errors.map((e) => `<li><code>${escape(e.error)}</code> (${plural(e.images, 'image')})</li>`).join('');
    lines.push(['Why they failed', `<ul class="errors">${list}</ul>`]);
  }
  if (verdicts) lines.push(['Sessions', `${verdicts.complete} complete, <a href="#sessions">${verdicts.review} to review</a>`]);
  if (benchmark) lines.push(['Benchmark', `${escape(benchmark.lora)}: <strong>${escape(benchmark.verdict)}</strong> (${escape(benchmark.reason)})`]);
  if (lastRun) {
    const stages = lastRun.stages.length > 0 ? `<ul>${lastRun.stages.map((s) => `<li>${escape(stageLine(s))}</li>`).join('')}</ul>` : ' nothing ran: everything was up to date';
    lines.push(['The last run', `<code>pipeline ${escape(lastRun.argv)}</code> at ${escape(lastRun.started)}, ${escape(lastRun.status)}:${stages}`]);
  }
  if (summary.changes) lines.push(['What changed', changesHtml(summary.changes, escape)]);
  return `<dl class="summary">${lines.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join('\n')}</dl>`;
}

/** Rows added (+), removed (-) and changed in place (~) per table by the last run that committed a stage. */
function changesHtml(changes: TableChanges, escape: Escape): string {
  const { run } = changes;
  return `${escape(changesLine(changes))}, by <code>pipeline ${escape(run.argv)}</code> at ${escape(run.started)}; rows added (+), removed (-) and changed in place (~) against the version it replaced`;
}

/** Every failed image with its error, or a line saying there are none. */
export function failedImagesHtml(summary: Summary, escape: Escape): string {
  if (summary.failedImages.length === 0) return '<p class="empty">No image failed.</p>';
  const rows = summary.failedImages
    .map((r) => `<tr><td>${escape(r.session_dir)}</td><td>${escape(r.filename || '(not written)')}</td><td>${escape(r.prompt_id)}</td><td>${escape(r.endpoint)}</td><td class="error">${escape(r.error ?? '')}</td></tr>`)
    .join('\n');
  const more = summary.images.failed > summary.failedImages.length ? `<p class="note">The first ${summary.failedImages.length} of ${summary.images.failed}: <code>pipeline sql "select * from images where status = 'failed'"</code> lists them all.</p>` : '';
  return `<table class="failed"><thead><tr><th>session folder</th><th>file it would have been</th><th>prompt_id</th><th>endpoint</th><th>error</th></tr></thead><tbody>\n${rows}\n</tbody></table>${more}`;
}
