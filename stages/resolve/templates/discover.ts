// Which entry prompt files a list of globs names: each glob's matches sorted, globs in
// the order given, every file once. A plain path is looked up directly: status checks
// the prompt files every time, and loading a glob library for a path costs it ~25 ms.
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { glob as findFiles, isGlobPattern } from '../../../src/glob.js';

async function matchesOf(projectDir: string, glob: string): Promise<string[]> {
  if (!isGlobPattern(glob)) return statSync(resolve(projectDir, glob), { throwIfNoEntry: false })?.isFile() ? [glob] : [];
  return (await findFiles(glob, { cwd: projectDir, onlyFiles: true, dot: false })).sort();
}

export async function findPromptFiles(projectDir: string, globs: string[]): Promise<string[]> {
  const seen = new Set<string>();
  for (const glob of globs) {
    for (const match of await matchesOf(projectDir, glob)) seen.add(resolve(projectDir, match));
  }
  return [...seen];
}
