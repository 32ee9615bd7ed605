// Which project a command acts on when -C is not given: the nearest folder at or above
// the current one that holds pipeline.yaml, as git finds .git and DVC finds .dvc; and
// where a project keeps its files. Light on purpose: the CLI's entry reads it before the
// rest of the engine has loaded.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

export function findProjectDir(start: string): string | null {
  let dir = resolve(start);
  for (;;) {
    if (existsSync(join(dir, 'pipeline.yaml'))) return dir;
    const up = dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

/** -C when given; else the nearest project above the current folder; else the current folder (which has none). */
export function projectDirFor(dirOption: string | undefined, cwd = process.cwd()): string {
  return dirOption !== undefined ? resolve(cwd, dirOption) : (findProjectDir(cwd) ?? resolve(cwd));
}

/** Where a project keeps what sdloop writes: all of it under data/. */
export function projectPaths(dir: string) {
  const dataDir = join(dir, 'data');
  return {
    dataDir,
    paths: {
      state: join(dataDir, 'state.duckdb'),
      lock: join(dir, 'pipeline.lock'),
      /** the lock's copy, standing in for a damaged one */
      lockCopy: join(dataDir, '.sdloop', 'lock.json'),
      runLock: join(dataDir, '.sdloop', 'run.lock'),
      runProgress: join(dataDir, '.sdloop', 'progress.json'),
      /** the lists of stored objects the last checks stat'ed (stat-preload.ts) */
      objectChecks: join(dataDir, '.sdloop', 'object-checks'),
      tables: join(dataDir, 'tables'),
      objects: join(dataDir, 'objects'),
      memo: join(dataDir, 'memo'),
      stages: join(dataDir, 'stages'),
    },
  };
}

export type ProjectPaths = ReturnType<typeof projectPaths>['paths'];
