// The item memo of a map stage: new items run alone, removed items drop out of the
// output, a param change reruns every item, and results stay memoised under the old
// params until `pipeline gc` removes them.
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { stageOf, TestProject } from './helpers.js';

let ran: TestProject;
let project: TestProject;

const inputs = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`f${String(i).padStart(2, '0')}.txt`, `file ${i}\n`]));

beforeAll(async () => {
  ran = TestProject.create(inputs);
  const first = await ran.run();
  expect(stageOf(first, 'upper').items).toEqual({ done: 12, failed: 0, reused: 0 });
});
beforeEach(() => {
  project = ran.clone();
});
afterEach(() => project.dispose());
afterAll(() => ran.dispose());

const upperRows = () => project.sql<{ path: string; text: string }>('select path, text from upper');

it('runs only the added items and keeps the output in item order', async () => {
  project.write('in/f12.txt', 'file 12\n');
  project.write('in/f13.txt', 'file 13\n');
  const summary = await project.run();
  expect(stageOf(summary, 'upper').items).toEqual({ done: 2, failed: 0, reused: 12 });
  const rows = await upperRows();
  expect(rows.map((r) => r.path)).toEqual(Array.from({ length: 14 }, (_, i) => `in/f${String(i).padStart(2, '0')}.txt`));
  expect(rows.at(-1)).toEqual({ path: 'in/f13.txt', text: 'FILE 13!' });
});

it('drops removed items from the output without running anything', async () => {
  project.remove('in/f03.txt');
  project.remove('in/f07.txt');
  const summary = await project.run();
  expect(stageOf(summary, 'upper').items).toEqual({ done: 0, failed: 0, reused: 10 });
  const paths = (await upperRows()).map((r) => r.path);
  expect(paths).toHaveLength(10);
  expect(paths).not.toContain('in/f03.txt');
  expect(paths).not.toContain('in/f07.txt');
});

it('reruns every item when a param changes, and reuses the old results when it changes back', async () => {
  const changed = await project.run(['--set', 'upper.suffix="?"']);
  expect(stageOf(changed, 'upper').items).toEqual({ done: 12, failed: 0, reused: 0 });
  expect((await upperRows())[0]!.text).toBe('FILE 0?');
  const back = await project.run();
  expect(stageOf(back, 'upper').items).toEqual({ done: 0, failed: 0, reused: 12 });
  expect((await upperRows())[0]!.text).toBe('FILE 0!');
});

it('gc --apply forgets results memoised under params no output uses any more', async () => {
  await project.run(['--set', 'upper.suffix="?"']);
  const gc = await project.pipeline(['gc', '--apply']);
  expect(gc.code).toBe(0);
  expect(gc.stdout).toMatch(/^gc: freed [1-9]\d* memo rows, [1-9]\d* memo parts and 0 objects \(\d+(\.\d)? [KM]?i?B\) nothing refers to\n$/);
  const back = await project.run();
  expect(stageOf(back, 'upper').items).toEqual({ done: 12, failed: 0, reused: 0 });
  const again = await project.pipeline(['gc', '--apply']);
  expect(again.stdout).toMatch(/freed [1-9]\d* memo rows, [1-9]\d* memo parts/);
  expect((await project.run()).stages.map((s) => s.status)).toEqual(['skipped', 'skipped', 'skipped']);
});

it('--force recomputes every item of a map stage, not only its fingerprint', async () => {
  const summary = await project.run(['--force']);
  expect(stageOf(summary, 'upper').items).toEqual({ done: 12, failed: 0, reused: 0 });
  expect(stageOf(summary, 'upper').status).toBe('cut-off');
});
