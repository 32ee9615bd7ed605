// What a run deletes or overwrites stays inside the project, after symlinks: outs that
// leave it are bad input (exit 2, the pipeline.yaml line named) and never removed, and a
// link out of the project under a dep folder is refused naming the link.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { isInside, removeInside } from '../../src/inside.js';
import { TestProject } from './helpers.js';

let project: TestProject;
let outside: string;
beforeEach(() => {
  project = TestProject.create();
  outside = mkdtempSync(join(tmpdir(), 'sdloop-victim-'));
  writeFileSync(join(outside, 'keep.txt'), 'the user\'s file\n');
});
afterEach(() => {
  project.dispose();
  rmSync(outside, { recursive: true, force: true });
});

const withCountOuts = (outs: string) =>
  project.read('pipeline.yaml').replace('outs: [out/count.txt]', `outs: [${outs}]`);

describe('paths stay inside the project', () => {
  it('refuses outs: [../victim] before running anything, and leaves it in place', async () => {
    const victim = join(project.dir, '..', `victim-${process.pid}`);
    mkdirSync(victim, { recursive: true });
    writeFileSync(join(victim, 'keep.txt'), 'mine\n');
    try {
      project.write('pipeline.yaml', withCountOuts(`../victim-${process.pid}`));
      const result = await project.pipeline(['run']);
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toMatch(/pipeline\.yaml:\d+:\d+: stages\.count\.outs\[0\]: out "\.\.\/victim-\d+" is outside the project/);
      expect(readFileSync(join(victim, 'keep.txt'), 'utf8')).toBe('mine\n');
      expect(project.exists('data')).toBe(false);
    } finally {
      rmSync(victim, { recursive: true, force: true });
    }
  });

  it('refuses an out reached through a symlink that leads out of the project', async () => {
    symlinkSync(outside, project.path('escape'), 'dir');
    project.write('pipeline.yaml', withCountOuts('escape/keep.txt'));
    const result = await project.pipeline(['run']);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toMatch(/out "escape\/keep\.txt" is outside the project \(through a symlink, it is .*keep\.txt\)/);
    expect(readFileSync(join(outside, 'keep.txt'), 'utf8')).toBe('the user\'s file\n');
  });

  it('refuses a symlink under a dep folder that points above the project, naming the link', async () => {
    symlinkSync(outside, project.path('in/elsewhere'), 'dir');
    const result = await project.pipeline(['run']);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toMatch(/in\/elsewhere: a symlink under a dep folder points outside the project/);
    expect(project.exists('data')).toBe(false);
  });

  it('removeInside deletes inside the project and refuses the project itself and what lies outside', async () => {
    project.write('out/old.txt', 'stale\n');
    await removeInside(project.dir, 'out', 'out');
    expect(project.exists('out')).toBe(false);
    await expect(removeInside(project.dir, '.', 'out')).rejects.toThrow(InputError);
    await expect(removeInside(project.dir, outside, 'out')).rejects.toThrow(InputError);
    expect(readFileSync(join(outside, 'keep.txt'), 'utf8')).toBe('the user\'s file\n');
    expect(isInside(project.dir, project.path('in/a.txt'))).toBe(true);
  });
});
