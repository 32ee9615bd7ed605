// What generate made beside its table, damaged by hand: a stored PNG garbled in place and
// a session folder deleted. Status names each, and the next run repairs it from what can
// be trusted (the item rendered again, the folder put back from the store), after which
// everything is up to date again.
import { closeSync, existsSync, openSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { parse } from 'yaml';
import { hashBytes } from '../../src/hash.js';
import { IdentityProject } from './identity-project.js';

let project: IdentityProject | undefined;
afterEach(() => project?.dispose());

const generateItems = (summary: { stages: { name: string; items?: unknown }[] }) => summary.stages.find((s) => s.name === 'generate')!.items;

async function finishedProject(): Promise<IdentityProject> {
  project = IdentityProject.create();
  const first = await project.run();
  expect(first.code, first.stderr).toBe(0);
  return project;
}

/** Overwrite bytes in the middle of a file, keeping its size. */
function garble(file: string): void {
  const fd = openSync(file, 'r+');
  writeSync(fd, Buffer.alloc(16, 0x5a), 0, 16, Math.floor(statSync(file).size / 2));
  closeSync(fd);
}

it('a stored PNG garbled in place is named by status (its stat moved, so it is hashed) and rendered again by the run', async () => {
  const p = await finishedProject();
  const [row] = await p.sql<{ path: string }>("SELECT path FROM images WHERE status = 'ok' ORDER BY path LIMIT 1");
  const object = p.path(row!.path);
  garble(object);
  const status = await p.status();
  expect(status.generate!.up_to_date).toBe(false);
  expect(status.generate!.reasons).toContain(`stored object ${row!.path} damaged (bytes no longer match its name)`);
  const again = await p.run();
  expect(again.code, again.stderr).toBe(0);
  expect(again.stderr).toContain(`generate: removed 1 damaged stored object (${row!.path}); their items are made again`);
  expect(generateItems(again)).toEqual({ done: 1, failed: 0, reused: 5 });
  expect(hashBytes(readFileSync(object))).toBe(basename(object).split('.')[0]);
  expect(Object.values(await p.status()).every((s) => s.up_to_date)).toBe(true);
}, 300_000);

/** A folder's files by name, with their bytes. */
const filesOf = (dir: string) => Object.fromEntries(readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f))]));

it('a deleted session folder is named by status and put back byte for byte from the store, rendering nothing', async () => {
  const p = await finishedProject();
  const [folder] = readdirSync(p.path('data/sessions'));
  const dir = p.path(`data/sessions/${folder}`);
  const before = filesOf(dir);
  expect(Object.keys(before)).toContain('manifest.json');
  rmSync(dir, { recursive: true });
  const status = await p.status();
  expect(status.generate!.reasons).toEqual([`session folder data/sessions/${folder} is missing: the run puts it back from the store`]);
  expect(status.catalog!.reasons).toEqual(['upstream generate will run first']);
  const again = await p.run();
  expect(again.code, again.stderr).toBe(0);
  expect(generateItems(again)).toEqual({ done: 0, failed: 0, reused: 6 });
  expect(again.stages.filter((s) => s.name !== 'generate').map((s) => s.status)).toEqual(['skipped', 'skipped', 'skipped']);
  expect(filesOf(dir)).toEqual(before);
  expect(Object.values(await p.status()).every((s) => s.up_to_date)).toBe(true);
}, 300_000);

it('a deleted manifest.json is put back from its kept copy', async () => {
  const p = await finishedProject();
  const [folder] = readdirSync(p.path('data/sessions'));
  const manifest = p.path(`data/sessions/${folder}/manifest.json`);
  const text = readFileSync(manifest, 'utf8');
  rmSync(manifest);
  expect((await p.status()).generate!.reasons).toEqual([`manifest.json of session folder data/sessions/${folder} is missing: the run puts back its copy`]);
  expect((await p.run()).code).toBe(0);
  expect(readFileSync(manifest, 'utf8')).toBe(text);
  expect(Object.values(await p.status()).every((s) => s.up_to_date)).toBe(true);
}, 300_000);

it('images deleted from a session folder that is still there are named by status and linked back from the store; a pruned image stays in the trash', async () => {
  const p = await finishedProject();
  const images = await p.sql<{ image_id: string; session_dir: string; filename: string }>("SELECT image_id, session_dir, filename FROM images WHERE status = 'ok' ORDER BY session_dir, filename");
  const folder = images[0]!.session_dir;
  const inFolder = images.filter((i) => i.session_dir === folder);
  expect(inFolder.length).toBeGreaterThanOrEqual(4);
  const [pruned, ...rest] = inFolder;
  const prune = await p.pipeline(['prune', '--where', `images.image_id = '${pruned!.image_id}'`, '--apply']);
  expect(prune.code, prune.stderr).toBe(0);
  expect(existsSync(p.path(`${folder}/${pruned!.filename}`))).toBe(false);
  const deleted = rest.slice(0, 3);
  const before = Object.fromEntries(deleted.map((i) => [i.filename, readFileSync(p.path(`${folder}/${i.filename}`))]));
  for (const i of deleted) rmSync(p.path(`${folder}/${i.filename}`));
  expect((await p.status()).generate!.reasons).toEqual([`3 images missing from session folder ${folder}: the run puts them back from the store`]);
  const again = await p.run();
  expect(again.code, again.stderr).toBe(0);
  expect(generateItems(again)).toEqual({ done: 0, failed: 0, reused: 6 });
  for (const i of deleted) expect(readFileSync(p.path(`${folder}/${i.filename}`))).toEqual(before[i.filename]);
  expect(existsSync(p.path(`${folder}/${pruned!.filename}`))).toBe(false);
  expect(Object.values(await p.status()).every((s) => s.up_to_date)).toBe(true);
}, 300_000);

it('a garbled stored PNG is re-rendered into the session file it was linked as, in its own folder, and the manifest lists it', async () => {
  const p = await finishedProject();
  const folders = readdirSync(p.path('data/sessions')).sort();
  const [row] = await p.sql<{ path: string; session_dir: string; filename: string }>("SELECT path, session_dir, filename FROM images WHERE status = 'ok' ORDER BY path LIMIT 1");
  const sessionFile = p.path(`${row!.session_dir}/${row!.filename}`);
  const manifestBefore = JSON.parse(readFileSync(p.path(`${row!.session_dir}/manifest.json`), 'utf8'));
  garble(p.path(row!.path));
  expect(hashBytes(readFileSync(sessionFile))).not.toBe(basename(row!.path).split('.')[0]);
  const again = await p.run();
  expect(again.code, again.stderr).toBe(0);
  expect(generateItems(again)).toEqual({ done: 1, failed: 0, reused: 5 });
  expect(readdirSync(p.path('data/sessions')).sort()).toEqual(folders);
  const [now] = await p.sql<{ path: string; session_dir: string; filename: string }>(`SELECT path, session_dir, filename FROM images WHERE filename = '${row!.filename}'`);
  expect(now).toEqual(row);
  const object = readFileSync(p.path(now!.path));
  expect(hashBytes(object)).toBe(basename(now!.path).split('.')[0]);
  expect(readFileSync(sessionFile)).toEqual(object);
  const manifest = JSON.parse(readFileSync(p.path(`${row!.session_dir}/manifest.json`), 'utf8'));
  expect(manifest.images).toEqual(manifestBefore.images);
  expect(manifest.status).toBe('completed');
  expect(Object.values(await p.status()).every((s) => s.up_to_date)).toBe(true);
}, 300_000);

it('a folder found whole is not listed again while its mtime stays, and an image deleted from it later is still named', async () => {
  const p = await finishedProject();
  // The lock counts the items whose rows name stored objects: score's name none, so status checks none for it.
  const lock = parse(readFileSync(p.path('pipeline.lock'), 'utf8'));
  expect([lock.stages.generate.items.objects, lock.stages.score.items.objects]).toEqual([6, 0]);
  const folders = readdirSync(p.path('data/sessions')).map((f) => `data/sessions/${f}`);
  // Folders changed in the last moments are not marked: these are made an hour old.
  const hourAgo = Date.now() / 1000 - 3600;
  for (const folder of folders) utimesSync(p.path(folder), hourAgo, hourAgo);
  expect(Object.values(await p.status()).every((s) => s.up_to_date)).toBe(true);
  const marks = JSON.parse(readFileSync(p.path('data/stages/generate/whole-folders.json'), 'utf8'));
  expect(Object.keys(marks.folders).sort()).toEqual(folders.sort());
  expect(Object.values(await p.status()).every((s) => s.up_to_date)).toBe(true);
  const [image] = await p.sql<{ session_dir: string; filename: string }>("SELECT session_dir, filename FROM images WHERE status = 'ok' ORDER BY filename LIMIT 1");
  rmSync(p.path(`${image!.session_dir}/${image!.filename}`));
  expect((await p.status()).generate!.reasons).toEqual([`1 image missing from session folder ${image!.session_dir}: the run puts them back from the store`]);
  expect((await p.run()).code).toBe(0);
  expect(existsSync(p.path(`${image!.session_dir}/${image!.filename}`))).toBe(true);
}, 300_000);
