// What the coordinator knows of the workers serving one distributed stage: the batches
// each returned and their rate, when it was last seen (a result, or connected to the
// queue), and which of them refuse this run's batches and why. It is what the progress
// lines and `pipeline status` show, and what decides that no worker will take a batch.
import { describeWorker, type WorkerStat } from './run-progress.js';

interface Tally {
  batches: number;
  items: number;
  first?: number;
  last?: number;
  seen: number;
  refuses?: string;
}

export class RemoteWorkers {
  private readonly tallies = new Map<string, Tally>();
  /** the first refusal since a batch last came back */
  private refusedSince: number | undefined;

  constructor(private readonly report: (workers: WorkerStat[]) => void) {}

  /** A worker returned the results of a batch of `items` items. */
  batchDone(worker: string, items: number): void {
    const now = Date.now();
    const t = this.tally(worker);
    t.batches += 1;
    t.items += items;
    t.first ??= now;
    t.last = now;
    t.seen = now;
    this.refusedSince = undefined;
    this.report(this.stats());
  }

  /** A worker handed a batch back; true the first time it says so in this run. */
  refused(worker: string, reason: string): boolean {
    const t = this.tally(worker);
    const first = t.refuses === undefined;
    t.refuses = reason;
    t.seen = Date.now();
    this.refusedSince ??= t.seen;
    this.report(this.stats());
    return first;
  }

  /** The workers connected to the queue now (BullMQ's CLIENT LIST), each seen alive. */
  connected(workers: string[]): void {
    const now = Date.now();
    for (const name of workers) this.tally(name).seen = now;
    if (workers.length > 0) this.report(this.stats());
  }

  /**
   * Why the stage should fail: batches were refused and every worker connected refuses
   * them, or none came back for timeoutS seconds since; undefined while one may be taken.
   */
  verdict(connected: string[], timeoutS: number): string | undefined {
    if (this.refusedSince === undefined) return undefined;
    if (connected.length > 0 && connected.every((name) => this.tallies.get(name)?.refuses !== undefined)) return `no worker connected takes its batches: ${this.refusals()}`;
    if (Date.now() - this.refusedSince >= timeoutS * 1000) return `no worker of the run's code and params took a batch within ${timeoutS} s: ${this.refusals()}`;
    return undefined;
  }

  /** "worker w1 refuses: ...; worker w2 refuses: ..." */
  refusals(): string {
    return [...this.tallies].filter(([, t]) => t.refuses).map(([name, t]) => `worker ${name} refuses: ${t.refuses}`).join('; ');
  }

  stats(): WorkerStat[] {
    return [...this.tallies].map(([name, t]) => ({
      name,
      batches: t.batches,
      items: t.items,
      ...(t.batches > 1 ? { rate: (t.batches - 1) / Math.max(0.001, (t.last! - t.first!) / 1000) } : {}),
      last_seen: new Date(t.seen).toISOString(),
      ...(t.refuses ? { refuses: t.refuses } : {}),
    }));
  }

  /** The workers that returned batches, for the stage's last log line. */
  describe(): string {
    return this.stats().filter((w) => w.batches > 0).map((w) => describeWorker(w)).join('; ');
  }

  private tally(worker: string): Tally {
    let t = this.tallies.get(worker);
    if (!t) this.tallies.set(worker, (t = { batches: 0, items: 0, seen: Date.now() }));
    return t;
  }
}
