// `pipeline status` while `pipeline loop` holds the state between the runs of a round
// (its own queries before and after each run, a merge, the readers' copy at close): it
// says what holds the project, at once, instead of waiting for the database and failing.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { onDemandContext } from '../../src/state-context.js';
import { copyExampleProject, runPipeline } from '../example-project.js';
import { repoRoot } from '../engine/helpers.js';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Asynchronous, so this process can hold the state while the CLI runs. */
function pipeline(dir: string, ...args: string[]): Promise<Result> {
  return new Promise((done) => execFile(process.execPath, [join(repoRoot, 'bin', 'pipeline.js'), '-C', dir, ...args], { encoding: 'utf8' }, (error, stdout, stderr) => {
    done({ code: error ? Number(error.code) : 0, stdout, stderr });
  }));
}

describe('status while a loop holds the state outside a run', () => {
  it('reports the holder at once, and the staleness again once it lets go', async () => {
    const dir = copyExampleProject('sdloop-loop-readers-');
    const first = runPipeline(dir, ['run', 'resolve']);
    expect(first.code, first.stderr).toBe(0);
    // What the loop's context does between runs: a query on the open state, no run going.
    const opened = await onDemandContext({ dir, set: {}, argv: 'loop --rounds 1' });
    try {
      await opened.ctx.sql('SELECT 1');
      const during = await pipeline(dir, 'status', '--json');
      expect(during.code, during.stderr).toBe(0);
      const running = (JSON.parse(during.stdout) as { running: { pid: number; command: string } | null }).running;
      expect(running).toMatchObject({ pid: process.pid, command: 'loop --rounds 1' });
      expect((await pipeline(dir, 'status', '--quiet')).code).toBe(1);
      await opened.ctx.release!();
      const after = await pipeline(dir, 'status', '--json');
      expect(after.code, after.stderr).toBe(0);
      expect((JSON.parse(after.stdout) as { running: unknown }).running).toBeNull();
      // The next query takes the lock again, and a run inside it runs under it.
      await opened.ctx.sql('SELECT 1');
      const summary = await opened.ctx.run({ targets: ['resolve'] });
      expect(summary.exitCode).toBe(0);
      expect((await pipeline(dir, 'status')).stdout).toMatch(/^a run is in progress \(pid \d+ .*: loop --rounds 1\)/);
    } finally {
      await opened.close();
    }
    expect((await pipeline(dir, 'status', '--json')).code).toBe(0);
  }, 120_000);

  it('status succeeds all through a real loop round', async () => {
    const dir = copyExampleProject('sdloop-loop-readers-');
    const loop = pipeline(dir, 'loop', '--rounds', '1');
    let finished = false;
    void loop.then(() => (finished = true));
    const seen: Result[] = [];
    while (!finished) seen.push(await pipeline(dir, 'status', '--json'));
    const done = await loop;
    expect(done.code, done.stderr).toBe(0);
    expect(seen.length).toBeGreaterThan(1);
    for (const status of seen) expect(status.code, status.stderr).toBe(0);
    const holders = seen.map((s) => (JSON.parse(s.stdout) as { running: { command: string } | null }).running?.command);
    expect(holders.some((c) => c?.includes('loop'))).toBe(true);
  }, 300_000);
});
