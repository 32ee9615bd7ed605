// The item memo of map stages: each item's result under (stage, memo key, item hash),
// kept as Parquet parts plus one memo row per item. A group of finished batches is
// committed as its parts and memo rows in one DuckDB transaction, so a killed run loses
// only batches that had not committed.
import { join, relative } from 'node:path';
import { randomBytes } from 'node:crypto';
import { writeParquetPart } from './tables.js';
import { appendRows, type State } from './state.js';
import type { ColumnTypes } from './table-schema.js';
import type { Row } from './stage.js';

export interface MemoEntry {
  part: string;
  outHash: string;
  status: 'ok' | 'failed';
  /** the stored objects its rows name, tab-joined ('' for none): see memo-objects.ts */
  objects: string;
}

export async function loadMemo(state: State, stage: string, memoKey: string): Promise<Map<string, MemoEntry>> {
  // One tab-joined string per row: converting DuckDB values one by one costs more than splitting.
  const lines = await state.exclusive(async (c) => {
    const reader = await c.runAndReadAll("SELECT concat_ws(chr(9), item, part, out_hash, status, coalesce(objects, '')) FROM memo WHERE stage = $stage AND fp = $fp", { stage, fp: memoKey });
    return (reader.getColumns()[0] ?? []) as string[];
  });
  const memo = new Map<string, MemoEntry>();
  for (const line of lines) {
    const [item, part, outHash, status, ...objects] = line.split('\t') as [string, string, string, MemoEntry['status'], ...string[]];
    memo.set(item, { part, outHash, status, objects: objects.join('\t') });
  }
  return memo;
}

/** A batch whose items have run: what the memo keeps of it. */
export interface FinishedBatch {
  items: { hash: string; key: string; outHash: string; error?: string; objects: string }[];
  /** per table output, the batch's rows, each with its item hash (_item) and order (_ord) */
  rows: Map<string, Row[]>;
}

/**
 * Commits finished batches in the background while the stage computes the next ones.
 * Batches that finish during a commit go together into the next one, so with fast items
 * the cost per commit (a Parquet write per output, a transaction) is shared. The stage
 * waits only when more than `backlog` batches are queued.
 */
export class MemoWriter {
  private queue: FinishedBatch[] = [];
  private writing: Promise<void> | undefined;
  private failure: { error: unknown } | undefined;
  private roomWaiters: (() => void)[] = [];

  constructor(
    private readonly options: {
      state: State;
      projectDir: string;
      stage: string;
      memoKey: string;
      runId: string;
      partDir: string;
      columns: Map<string, ColumnTypes>;
      memo: Map<string, MemoEntry>;
      backlog: number;
      committed(items: number): void;
      /** what must be durable before a group is committed (MapStage.beforeCommit) */
      beforeCommit?(): Promise<void>;
    },
  ) {}

  /** Queue a batch; resolves once the queue has room for another. */
  async add(batch: FinishedBatch): Promise<void> {
    this.throwIfFailed();
    this.queue.push(batch);
    this.startCommit();
    while (this.queue.length >= this.options.backlog && !this.failure) await new Promise<void>((wake) => this.roomWaiters.push(wake));
    this.throwIfFailed();
  }

  /** Resolves once everything queued is committed; rejects with the first commit failure. */
  async drain(): Promise<void> {
    while (this.writing) await this.writing;
    this.throwIfFailed();
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure.error;
  }

  private startCommit(): void {
    if (this.writing || this.queue.length === 0 || this.failure) return;
    const group = this.queue.splice(0);
    for (const wake of this.roomWaiters.splice(0)) wake();
    this.writing = this.commit(group)
      .catch((error: unknown) => {
        this.failure = { error };
        for (const wake of this.roomWaiters.splice(0)) wake();
      })
      .finally(() => {
        this.writing = undefined;
        this.startCommit();
      });
  }

  private async commit(group: FinishedBatch[]): Promise<void> {
    const { state, stage, memoKey, runId, memo } = this.options;
    await this.options.beforeCommit?.();
    const part = relative(this.options.projectDir, join(this.options.partDir, randomBytes(8).toString('hex')));
    for (const [name, columns] of this.options.columns) {
      const rows = group.flatMap((b) => b.rows.get(name) ?? []);
      await writeParquetPart(state, join(this.options.projectDir, `${part}.${name}.parquet`), columns, rows);
    }
    const items = group.flatMap((b) => b.items);
    // Only items memoised before (failed ones retried, or --force) have a row to replace.
    const replaced = items.filter((item) => memo.has(item.hash));
    await state.transaction(async (c) => {
      if (replaced.length > 0) {
        await c.run('DELETE FROM memo WHERE stage = $stage AND fp = $fp AND item IN (SELECT unnest($items::VARCHAR[]))', {
          stage,
          fp: memoKey,
          items: `[${replaced.map((item) => `"${item.hash}"`).join(',')}]`,
        });
      }
      await appendRows(
        c,
        'memo',
        items.map((item) => [stage, memoKey, item.hash, item.key, part, item.outHash, item.error ? 'failed' : 'ok', item.error ?? null, runId, item.objects]),
      );
    });
    for (const item of items) memo.set(item.hash, { part, outHash: item.outHash, status: item.error ? 'failed' : 'ok', objects: item.objects });
    this.options.committed(items.length);
  }
}
