// What sdloop deletes or overwrites lies inside the project, after symlinks: a `cmd:`
// stage's `outs: [../victim]`, or an out or output folder reached through a link that
// points elsewhere, would otherwise be emptied with `rm -rf`. The user's files are
// sacred, so such a path is bad input, refused before anything is removed.
import { realpathSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { InputError, type InputErrorWhere } from './errors.js';

/** A symlink chain that never ends, named by the link. */
export function symlinkLoop(path: string, where: InputErrorWhere = {}): InputError {
  return new InputError('a symlink loop (the link leads back to itself)', { file: path, ...where });
}

/**
 * Where `path` really is: symlinks resolved along the longest part that exists, the rest
 * (an out not written yet) appended as written.
 */
export function realPathOf(path: string): string {
  const missing: string[] = [];
  let at = resolve(path);
  for (;;) {
    try {
      return join(realpathSync(at), ...missing);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ELOOP') throw symlinkLoop(at);
      const parent = dirname(at);
      if (parent === at) return resolve(path);
      missing.unshift(basename(at));
      at = parent;
    }
  }
}

/** Whether `path` is strictly below `root` once both are resolved (the root itself is not: removing it removes the project). */
export function isInside(root: string, path: string): boolean {
  const rel = relative(realPathOf(root), realPathOf(path));
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

/** Throws bad input naming `what` unless `path` (relative to the project, or absolute) lies inside the project. */
export function requireInside(projectDir: string, path: string, what: string, where: InputErrorWhere = {}): string {
  const abs = resolve(projectDir, path);
  if (isInside(projectDir, abs)) return abs;
  const real = realPathOf(abs);
  const through = real === abs ? '' : ` (through a symlink, it is ${real})`;
  throw new InputError(`${what} "${path}" is outside the project${through}: sdloop deletes and writes only inside the project folder`, where);
}

/** `rm -rf` of a path that must lie inside the project; refused, deleting nothing, when it does not. */
export async function removeInside(projectDir: string, path: string, what: string): Promise<void> {
  await rm(requireInside(projectDir, path, what), { recursive: true, force: true });
}
