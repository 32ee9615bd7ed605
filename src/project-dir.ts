// Which project a command acts on when -C is not given: the nearest folder at or above
// the current one that holds pipeline.yaml, as git finds .git and DVC finds .dvc.
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
