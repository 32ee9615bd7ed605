// Folders import on worker threads, several folders queued per worker, so every core
// reads and parses PNGs while the main thread commits rows: a worker that had to wait
// for the busy main thread to hand it its next folder would sit idle. Each worker builds
// its own variation index from the same folders. Without the compiled worker script
// (tests run from TypeScript sources), or with one core, folders import in-process.
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { importFolder, type FolderItem, type FolderRows } from './folder.js';
import { VariationIndex } from './variation-keys.js';

export interface IndexSource {
  dirs: string[];
  /** where the templates live whose imports name each variation file's placeholder */
  templateDirs: string[];
  projectDir: string;
}

/** What goes to a worker and what comes back, matched by id. */
export interface ImportRequest {
  id: number;
  item: FolderItem;
}
export interface ImportReply {
  id: number;
  rows?: FolderRows;
  error?: string;
}

interface Pending {
  worker: Worker;
  resolve(rows: FolderRows): void;
  reject(error: Error): void;
}

/** Folders queued on one worker at most: enough to cover the main thread's pauses. */
const queuedPerWorker = 3;

export class ImportPool {
  private readonly queued = new Map<Worker, number>();
  private readonly waiting: (() => void)[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private local?: VariationIndex;

  private constructor(
    private readonly source: IndexSource,
    private readonly workers: Worker[],
  ) {
    for (const worker of workers) {
      this.queued.set(worker, 0);
      worker.on('message', (reply: ImportReply) => this.settle(reply));
      worker.on('error', (error: Error) => {
        for (const [id, p] of this.pending) {
          if (p.worker !== worker) continue;
          this.pending.delete(id);
          p.reject(error);
        }
      });
    }
  }

  /** One worker per core but the main thread's (which commits the rows), at most one per folder. */
  static open(source: IndexSource, folders: number): ImportPool {
    const script = new URL('./import-worker.js', import.meta.url);
    const count = Math.min(folders, availableParallelism() - 1);
    const workers = existsSync(script) && count >= 1 ? Array.from({ length: count }, () => new Worker(script, { workerData: source })) : [];
    return new ImportPool(source, workers);
  }

  /** The index the main thread maps with when there are no workers; built once. */
  index(): VariationIndex {
    return (this.local ??= new VariationIndex(this.source.dirs, this.source.projectDir, this.source.templateDirs));
  }

  get threads(): number {
    return this.workers.length;
  }

  /** The worker with the shortest queue, once one has room. */
  private async freeWorker(): Promise<Worker> {
    for (;;) {
      const [worker, queued] = [...this.queued].sort((a, b) => a[1] - b[1])[0]!;
      if (queued < queuedPerWorker) return worker;
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }

  async import(item: FolderItem): Promise<FolderRows> {
    if (this.workers.length === 0) return importFolder(item, this.index(), this.source.projectDir);
    const worker = await this.freeWorker();
    this.queued.set(worker, this.queued.get(worker)! + 1);
    const id = this.nextId++;
    return new Promise<FolderRows>((resolve, reject) => {
      this.pending.set(id, { worker, resolve, reject });
      worker.postMessage({ id, item } satisfies ImportRequest);
    });
  }

  private settle(reply: ImportReply): void {
    const pending = this.pending.get(reply.id);
    if (!pending) return;
    this.pending.delete(reply.id);
    this.queued.set(pending.worker, this.queued.get(pending.worker)! - 1);
    this.waiting.shift()?.();
    if (reply.error !== undefined) pending.reject(new Error(reply.error));
    else pending.resolve(reply.rows!);
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
