// fast-glob costs ~30 ms to import; a no-op run answered from the glob cache never needs it.
import type { Options } from 'fast-glob';

/** Whether a dep is a pattern (rather than a file or folder path). */
export function isGlobPattern(path: string): boolean {
  return /[*?[\]{}()!]/.test(path);
}

export async function glob(pattern: string, options: Options): Promise<string[]> {
  const fg = (await import('fast-glob')).default;
  return fg(pattern, options);
}

/** The static folders a pattern searches under (`data/in` for `data/in/**\/*.txt`). */
export async function globBases(pattern: string): Promise<string[]> {
  const fg = (await import('fast-glob')).default;
  return [...new Set(fg.generateTasks(pattern).map((t) => t.base))];
}
