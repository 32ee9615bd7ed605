// What a run tidies before and after its stages: what a killed run left behind (its
// temporary files, its `running` row), and the files each new output version is
// recorded with, so that later skips can check them.
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { removeStaleTempsUnder } from './atomic.js';
import { processAlive } from './pid.js';
import type { OutputRecord } from './lockfile.js';
import type { State } from './state.js';
import type { StatCache } from './stat-cache.js';

/** Runs recorded as running by a process of this host that is gone: they were killed. */
export async function closeKilledRuns(state: State): Promise<number> {
  const open = await state.query<{ run_id: string; pid: number }>("SELECT run_id, pid FROM runs WHERE status = 'running' AND host = $host", { host: hostname() });
  const killed = open.filter((r) => r.pid !== process.pid && !processAlive(r.pid));
  for (const { run_id } of killed) {
    await state.run("UPDATE runs SET status = 'killed', finished_at = coalesce(finished_at, now()) WHERE run_id = $id", { id: run_id });
  }
  return killed.length;
}

/** Before a run does work: the killed runs' rows closed and their temporary files anywhere in data/ removed. */
export async function cleanUpAfterKilledRuns(state: State, dataDir: string, note: (message: string) => void): Promise<void> {
  const runs = await closeKilledRuns(state);
  const temps = await removeStaleTempsUnder(dataDir);
  if (runs + temps.length === 0) return;
  note(`a killed run left ${runs} run record${runs === 1 ? '' : 's'} open (now marked killed) and ${temps.length} temporary file${temps.length === 1 ? '' : 's'} (removed)`);
}

/** Each table output with the hash of its Parquet file's bytes, through the stat cache. */
export async function withFileHashes(projectDir: string, stats: StatCache, outs: Record<string, OutputRecord>): Promise<Record<string, OutputRecord>> {
  const tables = Object.entries(outs).filter(([, o]) => o.kind === 'table');
  const hashes = await stats.hashFiles(tables.map(([, o]) => resolve(projectDir, o.path)));
  const result = { ...outs };
  tables.forEach(([name, out], i) => (result[name] = { ...out, file: hashes[i] }));
  return result;
}
