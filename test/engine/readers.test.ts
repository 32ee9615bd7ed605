// Readers are never blocked and never write: status, sql and dag work while a run holds
// the state database, on a project never run, and on a read-only data folder (as root,
// which file modes do not stop, that means: they write nothing at all). A run lock left
// by a process that is gone is reported as stale, not as a run in progress.
import { spawnSync } from 'node:child_process';
import { chmodSync, readdirSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, relative } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { finished, TestProject, waitFor } from './helpers.js';

let project: TestProject;
afterEach(() => {
  chmodSync(project.dir, 0o755);
  spawnSync('chmod', ['-R', 'u+w', project.dir]);
  project.dispose();
});

/** path -> size and mtime of every file and folder under the project but node_modules. */
function listing(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (at: string) => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      if (entry.name === 'node_modules') continue;
      const path = join(at, entry.name);
      const s = statSync(path);
      out[relative(dir, path)] = `${s.size}:${s.mtimeMs}`;
      if (entry.isDirectory()) walk(path);
    }
  };
  walk(dir);
  return out;
}

const deadPid = () => spawnSync(process.execPath, ['-e', '']).pid!;

describe('readers', () => {
  it('work on a project never run and create nothing', async () => {
    project = TestProject.create();
    const before = listing(project.dir);
    const status = await project.pipeline(['status']);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/^files: stale\n {2}- never run$/m);
    const sql = await project.pipeline(['sql', 'select 42 as answer']);
    expect(sql.code, sql.stderr).toBe(0);
    expect(sql.stdout).toContain('42');
    expect((await project.pipeline(['dag'])).code).toBe(0);
    expect(listing(project.dir)).toEqual(before);
    expect(project.exists('data')).toBe(false);
  });

  it('work on a read-only data folder and write nothing there', async () => {
    project = TestProject.create();
    expect((await project.run()).code).toBe(0);
    project.write('in/c.txt', 'gamma\n');
    spawnSync('chmod', ['-R', 'a-w', project.path('data')]);
    const before = listing(project.dir);
    const status = await project.status();
    expect(status.files!.reasons.join('\n')).toMatch(/deps: 1 file added \(in\/c.txt\)/);
    expect(status.upper!.up_to_date).toBe(false);
    expect(await project.sql('select count(*)::INTEGER as n from upper')).toEqual([{ n: 2 }]);
    expect(await project.sql('select count(*)::INTEGER as n from stage_runs')).toEqual([{ n: 3 }]);
    expect((await project.pipeline(['dag'])).code).toBe(0);
    expect(listing(project.dir), 'no file or folder written, not even the stat cache').toEqual(before);
  });

  it('see the records of a state from before the copy once any command writes the state', async () => {
    project = TestProject.create();
    expect((await project.run()).code).toBe(0);
    project.remove('data/.sdloop/state');
    expect((await project.pipeline(['sql', 'select * from runs'])).code).toBe(2);
    expect((await project.pipeline(['status'])).code).toBe(0);
    expect(await project.sql('select status from runs')).toEqual([{ status: 'ok' }]);
  });

  it('status, sql and dag answer while a run holds the state', async () => {
    project = TestProject.create(Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`f${i}.txt`, `${i}\n`])));
    expect((await project.run()).code).toBe(0);
    const run = project.spawn(['run', '--force', '--set', 'upper.batch=1'], { SLOW_MS: '1500' });
    const exit = finished(run);
    await waitFor(() => project.exists('data/.sdloop/progress.json') && project.read('data/.sdloop/progress.json').includes('"total": 8'), 'the run to reach the map stage');
    const status = await project.pipeline(['status']);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain(`a run is in progress (pid ${run.pid}`);
    const sql = await project.pipeline(['sql', '--format', 'json', 'select count(*)::INTEGER as n from upper']);
    expect(sql.code, sql.stderr).toBe(0);
    expect(JSON.parse(sql.stdout)).toEqual([{ n: 8 }]);
    // The run's own records so far: the stages before upper committed, and readers see them.
    const committed = await project.sql<{ stage: string }>("select stage from stage_runs where run_id = (select max(run_id) from runs) order by stage");
    expect(committed.map((r) => r.stage)).toContain('files');
    expect((await project.pipeline(['dag'])).code).toBe(0);
    expect(project.exists('data/.sdloop/run.lock'), 'the run was still going').toBe(true);
    run.kill('SIGKILL');
    await exit;
  }, 60_000);
});

describe('a run lock whose process is gone', () => {
  it('is reported as stale by status, and taken over by the next run', async () => {
    project = TestProject.create();
    expect((await project.run()).code).toBe(0);
    const pid = deadPid();
    const started = '2026-01-01T00:00:00.000Z';
    project.write('data/.sdloop/run.lock', JSON.stringify({ pid, host: hostname(), started_at: started, command: 'run' }));
    project.write('data/.sdloop/progress.json', JSON.stringify({ pid, started_at: started, command: 'run', updated_at: started, stages: { files: { state: 'running', since: started } } }));
    const status = await project.pipeline(['status']);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).not.toMatch(/in progress/);
    expect(status.stdout).toMatch(/^files: up to date$/m);
    expect(status.stderr).toContain(`note: the run lock left by pid ${pid} (started ${started}: run) is stale: that process is no longer running; the next run takes it over`);
    const run = await project.run(['--force']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain(`removed a stale lock left by pid ${pid}`);
  }, 60_000);

  it('is stale when its pid now belongs to a process started after the lock was taken', async () => {
    project = TestProject.create();
    // This test's own process is alive, but started long after 2020.
    project.write('data/.sdloop/run.lock', JSON.stringify({ pid: process.pid, host: hostname(), started_at: '2020-01-01T00:00:00.000Z', command: 'run' }));
    const run = await project.run();
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain(`removed a stale lock left by pid ${process.pid}`);
  }, 60_000);

  it('is still honoured when its process runs', async () => {
    project = TestProject.create();
    project.write('data/.sdloop/run.lock', JSON.stringify({ pid: process.pid, host: hostname(), started_at: new Date().toISOString(), command: 'run' }));
    const run = await project.pipeline(['run']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`another pipeline is running in this project (pid ${process.pid}`);
  });
});
