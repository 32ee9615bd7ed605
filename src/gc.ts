// What nothing refers to any more: memo rows and parts of old params or code, and stored
// objects nothing names (gc-references.ts), stage output versions pipeline.lock no longer
// names (generations.ts). Listed by default, deleted only when asked (a memo row of an old
// param is what makes changing that param back cheap). Never touches the current tables,
// sessions or user files.
import { readdir, rm, rmdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { glob, walkFolder } from './glob.js';
import { readLockFile } from './lockfile.js';
import { removeOldVersions } from './generations.js';
import { objectFilesUnder, referencedObjects } from './gc-references.js';
import { objectsAsLeft, recordObjectsChecked } from './memo-objects.js';
import type { ProjectSession } from './session.js';

export interface GcReport {
  /** memo rows recorded under a stage fingerprint the lock no longer holds */
  memoRows: number;
  /** memo part files no kept memo row points at */
  parts: number;
  /** stored objects no current table mentions */
  objects: number;
  /** stage output versions pipeline.lock no longer names (a killed run's, or from before a switch) */
  versions: number;
  /** bytes the parts and objects take on disk (memo rows live in the state database) */
  bytes: number;
  /** true when they were deleted, false when only listed */
  applied: boolean;
}

/** What gc keeps. */
interface Referenced {
  /** stage -> the memo fingerprint its current lock entry uses */
  memo: Record<string, string>;
  /** memo parts, project-relative without their `.<hash>.parquet` ending */
  parts: Set<string>;
  /** object file names (hash.ext) */
  objects: Set<string>;
  objectFiles: string[];
}

interface Garbage {
  memoRows: number;
  files: { path: string; kind: 'part' | 'object' | 'version'; bytes: number }[];
}

const keptMemo = '(stage, fp) IN (SELECT (stage, fp) FROM gc_keep_memo)';

/**
 * The one place that decides what is still in use: the memo rows of each stage's
 * current fingerprint, the parts those rows point at, and every object a kept memo row,
 * a table, the state's own tables or pipeline.lock names.
 */
async function findReferenced(session: ProjectSession): Promise<Referenced> {
  const { project, state } = session;
  const memo = session.runner.currentMemoKeys();
  await state.transaction(async (c) => {
    await c.run('CREATE OR REPLACE TEMP TABLE gc_keep_memo (stage VARCHAR, fp VARCHAR)');
    for (const [stage, fp] of Object.entries(memo)) await c.run('INSERT INTO gc_keep_memo VALUES ($stage, $fp)', { stage, fp });
  });
  const parts = new Set((await state.query<{ part: string }>(`SELECT DISTINCT part FROM memo WHERE ${keptMemo}`)).map((r) => r.part));
  const objectFiles = await objectFilesUnder(project.paths.objects);
  const objects = await referencedObjects(state, {
    projectDir: project.dir, tablesDir: project.paths.tables, lockFile: project.paths.lock, objectFiles, keptMemo,
  });
  return { memo, parts, objects, objectFiles };
}

async function sized(path: string, kind: Garbage['files'][number]['kind']) {
  const info = await stat(path);
  if (!info.isDirectory()) return { path, kind, bytes: info.size };
  const { files } = walkFolder(path, { dot: true });
  const sizes = await Promise.all(files.map((f) => stat(join(path, f)).then((s) => s.size)));
  return { path, kind, bytes: sizes.reduce((a, b) => a + b, 0) };
}

async function findGarbage(session: ProjectSession, referenced: Referenced): Promise<Garbage> {
  const { project, state } = session;
  const [{ n }] = await state.query<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM memo WHERE NOT ${keptMemo}`);
  const files: Garbage['files'] = [];
  for (const file of await glob('**/*.parquet', { cwd: project.paths.memo, absolute: true }).catch(() => [] as string[])) {
    const part = relative(project.dir, file).replace(/\.[^.]+\.parquet$/, '');
    if (!referenced.parts.has(part)) files.push(await sized(file, 'part'));
  }
  for (const file of referenced.objectFiles) {
    if (!referenced.objects.has(file.split('/').pop()!)) files.push(await sized(file, 'object'));
  }
  for (const path of await removeOldVersions(project, project.graph, readLockFile(project.paths.lock), { listOnly: true })) files.push(await sized(path, 'version'));
  return { memoRows: n ?? 0, files };
}

async function deleteGarbage(session: ProjectSession, garbage: Garbage): Promise<void> {
  const { project, state } = session;
  const intact = await objectsAsLeft(state, project.paths.objects);
  await state.run(`DELETE FROM memo WHERE NOT ${keptMemo}`);
  for (const file of garbage.files) await rm(file.path, { recursive: true, force: true });
  const gone = garbage.files.filter((f) => f.kind === 'object').map((f) => relative(project.paths.objects, f.path));
  if (gone.length > 0) await state.run('DELETE FROM object_stats WHERE path IN (SELECT unnest(string_split($gone, chr(9))))', { gone: gone.join('\t') });
  // Object folders are named by hash prefix; an emptied one would otherwise stay forever.
  for (const dir of await readdir(project.paths.objects).catch(() => [] as string[])) {
    await rmdir(join(project.paths.objects, dir)).catch(() => undefined);
  }
  // Only what nothing names is gone: if every memo hit's objects were in place, they still are.
  if (intact) await recordObjectsChecked(state, project.paths.objects);
}

export async function collectGarbage(session: ProjectSession, options: { apply: boolean }): Promise<GcReport> {
  const garbage = await findGarbage(session, await findReferenced(session));
  if (options.apply) await deleteGarbage(session, garbage);
  return {
    memoRows: garbage.memoRows,
    parts: garbage.files.filter((f) => f.kind === 'part').length,
    objects: garbage.files.filter((f) => f.kind === 'object').length,
    versions: garbage.files.filter((f) => f.kind === 'version').length,
    bytes: garbage.files.reduce((sum, f) => sum + f.bytes, 0),
    applied: options.apply,
  };
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** One line for people: what was freed, or what would be and how to free it. */
export function describeGcReport(report: GcReport): string {
  const versions = report.versions > 0 ? `, ${plural(report.versions, 'old output version')}` : '';
  const what = `${plural(report.memoRows, 'memo row')}, ${plural(report.parts, 'memo part')}${versions} and ${plural(report.objects, 'object')} (${formatBytes(report.bytes)})`;
  if (report.applied) return `gc: freed ${what} nothing refers to\n`;
  const nothing = report.memoRows + report.parts + report.objects + report.versions === 0;
  return nothing ? `gc: nothing to free\n` : `gc: would free ${what} nothing refers to; nothing deleted (add --apply to delete them)\n`;
}
