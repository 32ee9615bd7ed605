// Which entry prompt files a list of globs names: each glob's matches sorted, globs in
// the order given, every file once.
import { resolve } from 'node:path';

export async function findPromptFiles(projectDir: string, globs: string[]): Promise<string[]> {
  const { default: fg } = await import('fast-glob');
  const seen = new Set<string>();
  for (const glob of globs) {
    const matches = await fg(glob, { cwd: projectDir, onlyFiles: true, dot: false });
    for (const match of matches.sort()) seen.add(resolve(projectDir, match));
  }
  return [...seen];
}
