// `pipeline status` must say why each stage is stale in words a user can act on, and
// an unchanged stage must stay up to date (early cut-off included).
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { stageOf, TestProject } from './helpers.js';

let ran: TestProject;
let project: TestProject;

beforeAll(async () => {
  ran = TestProject.create({ 'a.txt': 'alpha\n', 'b.txt': 'beta\n', 'c.txt': 'gamma\n' });
  const first = await ran.run();
  expect(first.code, first.stderr).toBe(0);
});
beforeEach(() => {
  project = ran.clone();
});
afterEach(() => project.dispose());
afterAll(() => ran.dispose());

describe('status explains staleness', () => {
  it('says "never run" for a fresh project and "up to date" right after a run', async () => {
    const fresh = TestProject.create();
    try {
      const before = await fresh.status();
      expect(before.files!.reasons).toEqual(['never run']);
      expect(before.upper!.reasons[0]).toMatch(/upstream files will run first/);
    } finally {
      fresh.dispose();
    }
    const after = await project.status();
    expect(Object.values(after).map((s) => s.up_to_date)).toEqual([true, true, true]);
    const text = await project.pipeline(['status']);
    expect(text.stdout).toBe('files: up to date\nupper: up to date\ncount: up to date\n');
  });

  it('names the param that changed, from what to what (pipeline.yaml edit and --set)', async () => {
    project.write('pipeline.yaml', project.read('pipeline.yaml').replace('suffix: "!"', 'suffix: "?"'));
    const edited = await project.status();
    expect(edited.upper!.reasons).toContain('param upper.suffix changed: "!" -> "?"');
    expect(edited.files!.up_to_date).toBe(true);
    const overridden = await project.status(['--set', 'upper.batch=5']);
    expect(overridden.upper!.reasons).toContain('param upper.batch changed: 10 -> 5');
  });

  it('counts the items an input change adds and removes (+N/-M)', async () => {
    project.write('in/d.txt', 'delta\n');
    project.write('in/e.txt', 'epsilon\n');
    project.remove('in/c.txt');
    const files = await project.status();
    expect(files.files!.reasons).toEqual(['deps: 2 files added (in/d.txt, in/e.txt), 1 file removed (in/c.txt)']);
    expect(files.upper!.reasons).toEqual(['upstream files will run first']);
    expect((await project.run(['files'])).code).toBe(0);
    const upper = await project.status();
    expect(upper.upper!.reasons).toEqual(['input files changed', 'items: +2 to run, -1 removed, 2 reused']);
  });

  it('says "code changed" when the stage module or a helper it imports is edited', async () => {
    project.write('upper.mjs', `${project.read('upper.mjs')}\n// an edit\n`);
    expect((await project.status()).upper!.reasons).toEqual([
      'code changed',
      'items: 3 of 3 to run with these settings',
    ]);
    expect((await project.run()).code).toBe(0);
    project.write('shout.mjs', `${project.read('shout.mjs')}\n// an edit to a helper\n`);
    expect((await project.status()).upper!.reasons).toEqual(['code changed', 'items: 3 of 3 to run with these settings']);
  });

  it('lists modified dep files, and ignores a touch that keeps the content', async () => {
    project.write('in/b.txt', 'BETA changed\n');
    const status = await project.status();
    expect(status.files!.reasons).toEqual(['deps: 1 file changed (in/b.txt)']);
    expect(status.count!.reasons).toEqual(['deps: 1 file changed (in/b.txt)']);
    project.write('in/b.txt', 'beta\n');
    expect(Object.values(await project.status()).every((s) => s.up_to_date)).toBe(true);
  });

  it('reports a deleted output and rebuilds it', async () => {
    const table = project.outputPath('upper');
    project.remove(table);
    expect((await project.status()).upper!.reasons).toEqual([`output upper missing (${table})`]);
    const rerun = await project.run();
    expect(stageOf(rerun, 'upper').status).not.toBe('skipped');
    expect(project.exists(project.outputPath('upper'))).toBe(true);
    expect(await project.sql('select count(*)::INTEGER as n from upper')).toEqual([{ n: 3 }]);
  });

  it('counts failed items to retry, and a rerun retries only those', async () => {
    project.write('in/f1.txt', 'FAIL one\n');
    project.write('in/f2.txt', 'FAIL two\n');
    project.write('in/f3.txt', 'fine\n');
    const failing = await project.run([], { FAIL_ITEMS: '1' });
    expect(failing.code).toBe(1);
    expect(stageOf(failing, 'upper').items).toEqual({ done: 3, failed: 2, reused: 3 });
    expect((await project.status()).upper!.reasons).toEqual(['2 failed items to retry']);
    const retry = await project.run();
    expect(stageOf(retry, 'upper').items).toEqual({ done: 2, failed: 0, reused: 4 });
    expect((await project.status()).upper!.up_to_date).toBe(true);
    // One row per item: the failed attempts' rows stay in the part f3 still uses.
    expect(await project.sql('select path, text from upper where path like \'%f_.txt\' order by path')).toEqual([
      { path: 'in/f1.txt', text: 'FAIL ONE!' }, { path: 'in/f2.txt', text: 'FAIL TWO!' }, { path: 'in/f3.txt', text: 'FINE!' },
    ]);
  });

  it('says the previous run failed, with its error, until a run succeeds', async () => {
    const failed = await project.pipeline(['run', '--force', 'files'], { LIST_FAIL: '1' });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/files: FAILED: .*list exploded on purpose/);
    const status = await project.status();
    expect(status.files!.reasons).toHaveLength(1);
    expect(status.files!.reasons[0]).toMatch(/^previous run failed: .*list exploded on purpose$/);
    expect((await project.run()).code).toBe(0);
    expect((await project.status()).files!.up_to_date).toBe(true);
  });
});

describe('early cut-off', () => {
  it('a stage that reproduces the same rows leaves its dependents up to date', async () => {
    project.write('list.mjs', `${project.read('list.mjs')}\n// same rows, new code\n`);
    const status = await project.status();
    expect(status.files!.reasons).toEqual(['code changed']);
    const rerun = await project.run();
    expect(stageOf(rerun, 'files').status).toBe('cut-off');
    expect(stageOf(rerun, 'upper').status).toBe('skipped');
    expect(stageOf(rerun, 'count').status).toBe('skipped');
  });

  it('a cmd stage whose dep is rewritten with the same bytes does not rerun', async () => {
    project.write('in/a.txt', 'alpha\n');
    const rerun = await project.run();
    expect(rerun.stages.map((s) => s.status)).toEqual(['skipped', 'skipped', 'skipped']);
  });
});
