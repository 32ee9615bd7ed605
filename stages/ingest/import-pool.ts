// Folders import on worker threads, one folder per message, so every core reads and
// parses PNG heads while the main thread commits rows. Each worker builds its own
// variation index from the same folders. Without the compiled worker script (tests run
// from TypeScript sources), or with one core, folders import in-process.
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

interface Pending {
  resolve(rows: FolderRows): void;
  reject(error: Error): void;
}

export class ImportPool {
  private readonly idle: Worker[] = [];
  private readonly waiting: (() => void)[] = [];
  private readonly pending = new Map<Worker, Pending>();
  private local?: VariationIndex;

  private constructor(
    private readonly source: IndexSource,
    private readonly workers: Worker[],
  ) {
    for (const worker of workers) {
      worker.on('message', (msg: { rows?: FolderRows; error?: string }) => this.settle(worker, msg));
      worker.on('error', (error: Error) => this.pending.get(worker)?.reject(error));
      this.idle.push(worker);
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

  async import(item: FolderItem): Promise<FolderRows> {
    if (this.workers.length === 0) return importFolder(item, this.index(), this.source.projectDir);
    while (this.idle.length === 0) await new Promise<void>((resolve) => this.waiting.push(resolve));
    const worker = this.idle.pop()!;
    return new Promise<FolderRows>((resolve, reject) => {
      this.pending.set(worker, { resolve, reject });
      worker.postMessage(item);
    });
  }

  private settle(worker: Worker, msg: { rows?: FolderRows; error?: string }): void {
    const pending = this.pending.get(worker);
    this.pending.delete(worker);
    this.idle.push(worker);
    this.waiting.shift()?.();
    if (msg.error !== undefined) pending?.reject(new Error(msg.error));
    else pending?.resolve(msg.rows!);
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
