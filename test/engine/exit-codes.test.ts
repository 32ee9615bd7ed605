// What a run says at its end and the exit code it leaves, through the real CLI: items that
// failed are a failed run (1) that names them and why, a no-op says "up to date", a report
// over a table no run has made is bad input (2), and --json reports bad input too.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stageOf, TestProject } from './helpers.js';

let project: TestProject;
beforeAll(async () => {
  project = TestProject.create({ 'a.txt': 'alpha\n', 'b.txt': 'FAIL one\n', 'c.txt': 'FAIL two\n', 'd.txt': 'delta\n' });
  project.write('pipeline.yaml', `commands: [commands]\n${project.read('pipeline.yaml')}`);
});
afterAll(() => project.dispose());

describe('the end of a run', () => {
  it('items that failed: exit 1, a summary naming how many, their error and their ids; the rerun retries them and exits 0', async () => {
    const text = await project.pipeline(['run'], { FAIL_ITEMS: '1' });
    expect(text.code).toBe(1);
    const lines = text.stderr.trimEnd().split('\n');
    expect(lines.slice(-3)).toEqual([
      expect.stringMatching(/^FAILED after \d+\.\d s: 3 stages ran, 0 up to date; items: 4 run, 0 reused, 2 failed$/),
      'upper: 2 items failed (the next run retries them):',
      '  asked to fail: 2 items (in/b.txt, in/c.txt)',
    ]);

    const retry = await project.run();
    expect(retry.code).toBe(0);
    expect(retry.stderr.trimEnd().split('\n').at(-1)).toMatch(/^done in \d+\.\d s: 1 stage ran, 2 up to date; items: 2 run, 2 reused$/);
  });

  it('run --json carries the failures with the exit code, in snake_case', async () => {
    project.write('in/e.txt', 'FAIL three\n');
    project.write('in/f.txt', 'FAIL four\n');
    const summary = await project.run([], { FAIL_ITEMS: '1' });
    expect(summary.code).toBe(1);
    expect(summary).toMatchObject({ command: 'run', ok: false, exit_code: 1, dry_run: false });
    expect(summary.duration_s).toBeTypeOf('number');
    expect(stageOf(summary, 'upper')).toMatchObject({
      status: 'ran',
      items: { done: 2, failed: 2, reused: 4 },
      failures: [{ error: 'asked to fail', count: 2, items: ['in/e.txt', 'in/f.txt'] }],
    });
    project.remove('in/e.txt');
    project.remove('in/f.txt');
    expect((await project.run()).code).toBe(0);
  });

  it('a run with nothing to do says "up to date"', async () => {
    const noop = await project.pipeline(['run']);
    expect(noop.code).toBe(0);
    expect(noop.stdout).toBe('');
    expect(noop.stderr).toMatch(/^up to date: 3 stages, nothing to run \(\d+\.\d s\)\n$/);
  });

  it('a stage that failed is named once in its message and again in the summary', async () => {
    const failing = TestProject.create();
    try {
      failing.write('pipeline.yaml', `stages:\n  broken:\n    cmd: "echo it broke >&2; exit 3"\n    outs: [never.txt]\n  after:\n    cmd: "cp never.txt after.txt"\n    deps: [never.txt]\n    outs: [after.txt]\n`);
      const result = await failing.pipeline(['run']);
      expect(result.code).toBe(1);
      expect(result.stderr).not.toContain('stage broken failed');
      expect(result.stderr).toMatch(/^broken: FAILED: command exited with code 3:$/m);
      expect(result.stderr.trimEnd().split('\n').slice(-2)).toEqual([
        expect.stringMatching(/^FAILED after \d+\.\d s: 0 stages ran, 1 failed \(broken\), 1 not run \(upstream failed\), 0 up to date$/),
        'broken failed: command exited with code 3:',
      ]);
    } finally {
      failing.dispose();
    }
  });
});

describe('bad input is exit 2', () => {
  it('a report over a table no run has made yet names the stage that makes it', async () => {
    const fresh = TestProject.create();
    try {
      fresh.write('pipeline.yaml', `commands: [commands]\n${fresh.read('pipeline.yaml')}`);
      const result = await fresh.pipeline(['report', 'sessions']);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('error: report sessions needs table images, which does not exist yet: run `pipeline run catalog` first');
    } finally {
      fresh.dispose();
    }
  });

  it('with --json the errors come in the same envelope on stdout', async () => {
    const badOption = await project.pipeline(['run', '--json', '--jobs', '0']);
    expect(badOption.code).toBe(2);
    expect(JSON.parse(badOption.stdout)).toEqual({
      command: 'run', ok: false, exit_code: 2,
      errors: [{ message: "option '-j, --jobs <n>' argument '0' is invalid. expected a whole number >= 1", field: 'arguments' }],
    });
    const badSet = await project.pipeline(['status', '--json', '--set', 'upper.nosuch=1']);
    expect(badSet.code).toBe(2);
    expect(JSON.parse(badSet.stdout)).toMatchObject({ command: 'status', exit_code: 2, errors: [{ field: '--set', message: expect.stringContaining('upper.nosuch') }] });
  });
});

describe('status for scripts and people', () => {
  it('--quiet prints nothing and exits 1 when anything is stale, 0 when all is up to date', async () => {
    const upToDate = await project.pipeline(['status', '--quiet']);
    expect(upToDate).toMatchObject({ code: 0, stdout: '' });
    project.write('in/a.txt', 'alpha, edited\n');
    const stale = await project.pipeline(['status', '-q']);
    expect(stale).toMatchObject({ code: 1, stdout: '' });
    const words = await project.status();
    expect(words.files!.reasons).toEqual(['deps: 1 file changed (in/a.txt)']);
    expect((await project.run()).code).toBe(0);
    expect((await project.pipeline(['status', '--quiet'])).code).toBe(0);
  });
});

describe('error messages', () => {
  it('a bad --set value points at the command-line argument, not at a line of pipeline.yaml', async () => {
    const result = await project.pipeline(['status', '--set', 'upper.batch=abc']);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe('error: --set upper.batch="abc": Invalid input: expected number, received string (read by stage upper)\n');
  });

  it("a stage's messages name the project's files relative to it", async () => {
    const logging = TestProject.create();
    try {
      logging.write('say.mjs', `import { z } from 'zod';
export default { kind: 'stage', params: z.object({}).passthrough(), outputs: { said: { kind: 'table', schema: z.object({ n: z.number() }) } },
  async run(ctx) { ctx.log(\`read \${ctx.projectDir}/in/a.txt\`); ctx.warn(\`odd \${ctx.projectDir}/in/b.txt\`); return { said: [{ n: 1 }] }; } };
`);
      logging.write('pipeline.yaml', 'stages:\n  say:\n    uses: ./say.mjs\n');
      const result = await logging.pipeline(['run']);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toContain('say: read in/a.txt\nsay: warning: odd in/b.txt\n');
    } finally {
      logging.dispose();
    }
  });

  it('name a file of the project relative to it, and a field once', async () => {
    const broken = TestProject.create();
    try {
      broken.write('pipeline.yaml', `${broken.read('pipeline.yaml')}surprise: 1\n`);
      const result = await broken.pipeline(['status']);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/^error: pipeline\.yaml:\d+:1: Unrecognized key: "surprise"\n$/);
    } finally {
      broken.dispose();
    }
  });
});
