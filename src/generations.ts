// Versions of stage outputs. A stage writes each output under a name of its own (a table
// per identity: tables.ts tablePath; a folder per run: outputFolder), and pipeline.lock
// naming it is what makes it current. So a kill at any instant leaves the lock naming
// files that are whole and were made for it; the versions it no longer names are
// removed after the switch (and by gc), so the disk does not fill with them.
import { readdir, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import type { Graph } from './graph.js';
import type { LockFile } from './lockfile.js';

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A fresh folder name for one run's version of a path output: data/stages/<stage>/<output>-<8 hex>. */
export function outputFolder(stagesDir: string, stage: string, output: string): string {
  return join(stagesDir, stage, `${output}-${randomBytes(4).toString('hex')}`);
}

/** Names a version of this output may have in its folder (the bare name: before versions). */
const tableVersion = (name: string) => new RegExp(`^${escape(name)}(-[0-9a-f]{16})?\\.parquet$`);
const folderVersion = (output: string) => new RegExp(`^${escape(output)}(-[0-9a-f]{8})?$`);

async function removeOthers(dir: string, pattern: RegExp, keep: string | undefined, listOnly: boolean): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (name === keep || !pattern.test(name)) continue;
    if (!listOnly) await rm(join(dir, name), { recursive: true, force: true });
    removed.push(join(dir, name));
  }
  return removed;
}

/**
 * Remove every version of the module stages' outputs that pipeline.lock does not name:
 * those it named before the last switch, and those a killed run wrote and never recorded.
 * cmd stages' outs are the user's declared paths, with no versions: never touched.
 * Returns the paths removed (with listOnly: those it would remove, removing nothing).
 */
export async function removeOldVersions(
  project: { dir: string; paths: { tables: string; stages: string } },
  graph: Graph,
  lock: LockFile,
  options: { stages?: string[]; listOnly?: boolean } = {},
): Promise<string[]> {
  const { stages, listOnly = false } = options;
  const removed: string[] = [];
  for (const node of graph.nodes.values()) {
    if (!node.loaded || (stages && !stages.includes(node.name))) continue;
    const outs = lock.stages[node.name]?.outs ?? {};
    for (const [output, decl] of Object.entries(node.loaded.module.outputs)) {
      const current = outs[output] ? resolve(project.dir, outs[output]!.path) : undefined;
      if (decl.kind === 'table') {
        const keep = current && dirname(current) === project.paths.tables ? basename(current) : undefined;
        removed.push(...(await removeOthers(project.paths.tables, tableVersion(output), keep, listOnly)));
      } else {
        const folder = join(project.paths.stages, node.name);
        // A path output a stage put elsewhere is not a version of ours.
        if (current && relative(folder, current).includes(sep)) continue;
        const keep = current && dirname(current) === folder ? basename(current) : undefined;
        removed.push(...(await removeOthers(folder, folderVersion(output), keep, listOnly)));
      }
    }
  }
  return removed;
}
