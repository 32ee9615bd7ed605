// What a run leaves behind: each stage's row in stage_runs, and the few lines that end
// every run: what ran, what was up to date, how many items ran, were reused or failed
// (with the errors they failed with), and how long it took.
import type { ItemFailure, RunSummary } from './command.js';
import type { State } from './state.js';

/** A stage's row in stage_runs: how it ended, when, with its item counts and error. */
export function recordStageRun(state: State, row: {
  run: string;
  stage: string;
  /** ms since the epoch */
  started: number;
  status: string;
  fingerprint: string;
  error?: string;
  items?: { total: number; run: number; reused: number; failed: number };
}): Promise<void> {
  const { items } = row;
  return state.run(
    'INSERT INTO stage_runs VALUES ($run, $stage, to_timestamp($start / 1000), now(), $status, $fp, $total, $ran, $reused, $failed, $ms, $error)',
    {
      run: row.run, stage: row.stage, start: row.started, status: row.status, fp: row.fingerprint,
      total: items?.total ?? null, ran: items?.run ?? null, reused: items?.reused ?? null, failed: items?.failed ?? null,
      ms: Date.now() - row.started, error: row.error ?? null,
    },
  );
}

/** The most common errors of a map stage's failed items, with the keys of the first items of each. */
export function itemFailures(state: State, stage: string, memoKey: string): Promise<ItemFailure[]> {
  return state.query<ItemFailure>(
    `SELECT coalesce(error, 'failed') AS error, count(*)::INTEGER AS count, list(item_key ORDER BY item_key)[1:3] AS items
     FROM memo WHERE stage = $stage AND fp = $memoKey AND status = 'failed' GROUP BY 1 ORDER BY count DESC, error LIMIT 3`,
    { stage, memoKey },
  );
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** An error's first line, short enough for one line of a terminal. */
function firstLine(error: string): string {
  const line = error.split('\n')[0]!.trim();
  return line.length > 160 ? `${line.slice(0, 159)}…` : line;
}

function itemTotals(stages: RunSummary['stages']): string | undefined {
  const counted = stages.filter((s) => s.items && s.status !== 'skipped');
  if (counted.length === 0) return undefined;
  const sum = (pick: (items: NonNullable<RunSummary['stages'][number]['items']>) => number) => counted.reduce((n, s) => n + pick(s.items!), 0);
  const failed = sum((i) => i.failed);
  return `items: ${sum((i) => i.done)} run, ${sum((i) => i.reused)} reused${failed ? `, ${failed} failed` : ''}`;
}

/** Why a stage did not finish: its own failure, an upstream one, or an interrupt. */
function failureKind(stage: RunSummary['stages'][number]): 'failed' | 'upstream' | 'interrupted' | undefined {
  if (stage.status !== 'failed') return undefined;
  if (stage.error?.startsWith('upstream ')) return 'upstream';
  return stage.error?.startsWith('interrupted') ? 'interrupted' : 'failed';
}

function stageCounts(stages: RunSummary['stages']): string {
  const ran = stages.filter((s) => s.status === 'ran' || s.status === 'cut-off').length;
  const upToDate = stages.filter((s) => s.status === 'skipped').length;
  const named = (kind: string) => {
    const these = stages.filter((s) => failureKind(s) === kind);
    return these.length ? `${these.length} ${kind} (${these.map((s) => s.name).join(', ')})` : '';
  };
  const notRun = stages.filter((s) => failureKind(s) === 'upstream').length;
  return [`${plural(ran, 'stage')} ran`, named('failed'), named('interrupted'), notRun ? `${notRun} not run (upstream failed)` : '', `${upToDate} up to date`]
    .filter(Boolean)
    .join(', ');
}

function failureLines(stages: RunSummary['stages']): string[] {
  const lines: string[] = [];
  for (const stage of stages) {
    if (failureKind(stage) === 'failed') lines.push(`${stage.name} failed: ${firstLine(stage.error ?? 'failed')}`);
    if (!stage.items?.failed) continue;
    lines.push(`${stage.name}: ${plural(stage.items.failed, 'item')} failed (the next run retries them):`);
    for (const f of stage.failures ?? []) {
      const more = f.count > f.items.length ? `, ${f.count - f.items.length} more` : '';
      lines.push(`  ${firstLine(f.error)}: ${plural(f.count, 'item')} (${f.items.join(', ')}${more})`);
    }
  }
  return lines;
}

/** The end-of-run lines: one that says how it went, then each failure. */
export function describeRun(summary: RunSummary): string[] {
  const seconds = `${(summary.durationMs / 1000).toFixed(1)} s`;
  const stages = summary.stages;
  if (summary.exitCode === 0 && stages.every((s) => s.status === 'skipped')) {
    return [`up to date: ${plural(stages.length, 'stage')}, nothing to run (${seconds})`];
  }
  const outcome = summary.exitCode === 130 ? 'interrupted after' : summary.exitCode === 0 ? 'done in' : 'FAILED after';
  const totals = itemTotals(stages);
  return [`${outcome} ${seconds}: ${stageCounts(stages)}${totals ? `; ${totals}` : ''}`, ...failureLines(stages)];
}
