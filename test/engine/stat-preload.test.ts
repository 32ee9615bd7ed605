// The early stats of stored objects: the lines a worker finds moved, the lists checks
// leave, the command lines that start a worker, and through the real CLI that a status
// using the worker's findings still names every object damaged or gone since.
import { closeSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkListsDir, checkedProject, keepCheckList, listText, movedLines } from '../../src/stat-preload.js';
import { IdentityProject } from '../generate/identity-project.js';
import { repoRoot } from './helpers.js';

const lineOf = (base: string, rel: string) => {
  const s = statSync(base + rel);
  return `${rel}\t${s.size}\t${s.mtimeMs}\t${s.ino}`;
};

function folderWith(names: string[]): string {
  const dir = `${mkdtempSync(join(tmpdir(), 'sdloop-preload-'))}/`;
  for (const name of names) writeFileSync(dir + name, `bytes of ${name}`);
  return dir;
}

describe('movedLines', () => {
  it('names the lines whose file is gone, resized, touched or replaced, and no other', () => {
    const base = folderWith(['same', 'gone', 'resized', 'touched', 'replaced']);
    const text = ['same', 'gone', 'resized', 'touched', 'replaced'].map((n) => lineOf(base, n)).join('\n');
    rmSync(base + 'gone');
    writeFileSync(base + 'resized', 'longer bytes than before');
    utimesSync(base + 'touched', new Date(2020, 0, 1), new Date(2020, 0, 1));
    // The same bytes and mtime under a new inode: a file written anew and renamed over the old one.
    writeFileSync(base + 'new', readFileSync(base + 'replaced'));
    utimesSync(base + 'new', statSync(base + 'replaced').atime, statSync(base + 'replaced').mtime);
    renameSync(base + 'new', base + 'replaced');
    expect(movedLines(text, base).map((l) => l.split('\t')[0])).toEqual(['gone', 'resized', 'touched', 'replaced']);
    expect(movedLines(text, base, text.indexOf('\n') + 1, text.indexOf('\n', text.indexOf('\n') + 1))).toHaveLength(1);
    expect(movedLines('', base)).toEqual([]);
  });
});

describe('keepCheckList', () => {
  it('writes a list under its summary once, again when the summary changes, and removes it when the check named nothing', async () => {
    const project = mkdtempSync(join(tmpdir(), 'sdloop-preload-'));
    const file = join(checkListsDir(project), 'generate.tsv');
    await keepCheckList(project, 'generate', '2:77', 'a\t1\t2\t3\nb\t4\t5\t6');
    expect(readFileSync(file, 'utf8')).toBe(listText('2:77', 'a\t1\t2\t3\nb\t4\t5\t6'));
    const written = statSync(file).ino;
    await keepCheckList(project, 'generate', '2:77', 'a\t1\t2\t3\nb\t4\t5\t6');
    expect(statSync(file).ino).toBe(written);
    await keepCheckList(project, 'generate', '1:5', 'a\t1\t2\t9');
    expect(readFileSync(file, 'utf8')).toBe('1:5\na\t1\t2\t9');
    await keepCheckList(project, 'generate', '0:0', '');
    expect(() => statSync(file)).toThrow();
  });
});

describe('checkedProject', () => {
  const here = process.cwd();
  it('is the project of a status or run, with -C in each form commander reads; none for other commands', () => {
    expect(checkedProject(['status'], '/p')).toBe('/p');
    expect(checkedProject(['-C', 'x', 'status'], '/p')).toBe('/p/x');
    expect(checkedProject(['--dir=y', 'run', 'score'], '/p')).toBe('/p/y');
    expect(checkedProject(['-Cz', '-S', 'a=b', 'status'], '/p')).toBe('/p/z');
    expect(checkedProject(['--set', 'generate.concurrency=4', 'status', '--json'], '/p')).toBe('/p');
    expect(checkedProject(['sql', 'SELECT 1'], '/p')).toBeUndefined();
    expect(checkedProject(['--version'], '/p')).toBeUndefined();
    expect(process.cwd()).toBe(here);
  });
});

describe('the worker, from the build', () => {
  it('stats the lists a check left and hands over each one once, for its base only', async () => {
    const project = mkdtempSync(join(tmpdir(), 'sdloop-preload-'));
    writeFileSync(join(project, 'pipeline.yaml'), 'stages: {}\n');
    const base = `${project}/`;
    writeFileSync(base + 'kept', 'x');
    writeFileSync(base + 'lost', 'y');
    const built = (await import(join(repoRoot, 'dist/src/stat-preload.js'))) as typeof import('../../src/stat-preload.js');
    await built.keepCheckList(project, 'generate', '2:9', [lineOf(base, 'kept'), lineOf(base, 'lost')].join('\n'));
    rmSync(base + 'lost');
    built.preloadObjectChecks(['-C', project, 'status']);
    expect(await built.takePreloaded('generate', '/elsewhere/')).toBeUndefined();
    built.preloadObjectChecks(['-C', project, 'status']);
    const found = await built.takePreloaded('generate', base);
    expect(found?.summary).toBe('2:9');
    expect(found?.moved.map((l) => l.split('\t')[0])).toEqual(['lost']);
    expect(await built.takePreloaded('generate', base)).toBeUndefined();
  });
});

let identity: IdentityProject | undefined;
afterEach(() => identity?.dispose());

/** Overwrite bytes in the middle of a file, keeping its size. */
function garble(file: string): void {
  const fd = openSync(file, 'r+');
  writeSync(fd, Buffer.alloc(16, 0x5a), 0, 16, Math.floor(statSync(file).size / 2));
  closeSync(fd);
}

it('a status that takes the early stats names an object garbled, and one deleted, since the status that left the list', async () => {
  identity = IdentityProject.create();
  expect((await identity.run()).code).toBe(0);
  expect(Object.values(await identity.status()).every((s) => s.up_to_date)).toBe(true);
  const list = readFileSync(identity.path('data/.sdloop/object-checks/generate.tsv'), 'utf8').split('\n');
  expect(list[0]).toMatch(/^6:\d+$/);
  const [garbled, deleted] = list.slice(1, 3).map((line) => line.split('\t')[0]!);
  garble(identity.path(garbled!));
  rmSync(identity.path(deleted!));
  const status = await identity.status();
  expect(status.generate!.reasons).toContain(`stored object ${garbled} damaged (bytes no longer match its name)`);
  expect(status.generate!.reasons).toContain('2 memoised items name stored objects that are gone or damaged; they will be made again');
  const again = await identity.run();
  expect(again.code, again.stderr).toBe(0);
  expect(again.stages.find((s) => s.name === 'generate')!.items).toEqual({ done: 2, failed: 0, reused: 4 });
  expect(Object.values(await identity.status()).every((s) => s.up_to_date)).toBe(true);
}, 300_000);
