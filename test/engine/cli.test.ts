// The CLI surface: exit codes, --set, status --json, dag formats, sql formats and
// run --dry-run, as a script or a user would call them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stageOf, TestProject } from './helpers.js';

let project: TestProject;
beforeAll(async () => {
  project = TestProject.create({ 'a.txt': 'alpha\n', 'b.txt': 'beta, "quoted"\n' });
  expect((await project.pipeline(['run'])).code).toBe(0);
});
afterAll(() => project.dispose());

describe('exit codes', () => {
  it('0 for a run that succeeds or has nothing to do, and for help', async () => {
    const noop = await project.run();
    expect(noop.code).toBe(0);
    expect(noop).toMatchObject({ command: 'run', ok: true, exit_code: 0 });
    expect(noop.stages.map((s) => [s.name, s.status])).toEqual([['files', 'skipped'], ['upper', 'skipped'], ['count', 'skipped']]);
    const help = await project.pipeline(['help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: pipeline \[-C DIR\] <command>/);
  });

  it('1 when a stage fails: its error is shown, its dependents do not run, independent stages do', async () => {
    const failing = TestProject.create();
    try {
      failing.write('pipeline.yaml', `stages:\n  files:\n    uses: ./list.mjs\n    deps: [in]\n  broken:\n    cmd: "echo it broke >&2; exit 3"\n    outs: [never.txt]\n  after:\n    cmd: "cp never.txt after.txt"\n    deps: [never.txt]\n    outs: [after.txt]\n`);
      const text = await failing.pipeline(['run']);
      expect(text.code).toBe(1);
      expect(text.stderr).toContain('broken: FAILED: command exited with code 3:\nit broke');
      const summary = await failing.run();
      expect(summary).toMatchObject({ ok: false, exit_code: 1 });
      expect(stageOf(summary, 'files').status).toBe('skipped');
      expect(stageOf(summary, 'broken').status).toBe('failed');
      expect(stageOf(summary, 'after').status).toBe('failed');
      expect(failing.exists('after.txt')).toBe(false);
    } finally {
      failing.dispose();
    }
  });

  it('run --json still says why a stage failed (in the summary or on stderr)', async () => {
    const failing = TestProject.create();
    try {
      failing.write('pipeline.yaml', `stages:\n  broken:\n    cmd: "echo it broke >&2; exit 3"\n    outs: [never.txt]\n`);
      const result = await failing.pipeline(['run', '--json']);
      expect(result.code).toBe(1);
      expect(`${result.stdout}\n${result.stderr}`).toContain('command exited with code 3');
    } finally {
      failing.dispose();
    }
  });

  it('2 for bad input', async () => {
    const result = await project.pipeline(['run', '--jobs', '0']);
    expect(result.code).toBe(2);
  });
});

describe('--set', () => {
  it('overrides a param for one command, parsing the value as YAML, in both spellings', async () => {
    const status = await project.status(['--set', 'upper.batch=3', "--set=upper.suffix='[1, 2]'"]);
    expect(status.upper!.reasons).toEqual([
      'param upper.batch changed: 10 -> 3',
      'param upper.suffix changed: "!" -> "[1, 2]"',
      'items: 2 of 2 to run with these settings',
    ]);
    // A path no stage reads would change nothing: refused, not ignored.
    const unread = await project.pipeline(['status', '--set=upper.extra.deep=[1, 2]']);
    expect(unread.code).toBe(2);
    expect(unread.stderr).toContain('upper.extra.deep: no stage reads this param');
    const run = await project.run(['--set', 'upper.suffix=" (set)"', 'upper']);
    expect(stageOf(run, 'upper').status).toBe('ran');
    expect(await project.sql('select text from upper order by path')).toEqual([{ text: 'ALPHA (set)' }, { text: 'BETA, "QUOTED" (set)' }]);
    expect((await project.status()).upper!.reasons).toEqual([
      'param upper.suffix changed: " (set)" -> "!"',
      'items: all 2 memoised by an earlier run with these settings',
    ]);
    expect((await project.run()).code).toBe(0);
  });
});

describe('status --json', () => {
  it('lists every stage with its state and reasons, in run order', async () => {
    const result = await project.pipeline(['status', '--json']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      command: 'status', ok: true, exit_code: 0, running: null,
      stages: [
        { name: 'files', state: 'up_to_date', up_to_date: true, reasons: [] },
        { name: 'upper', state: 'up_to_date', up_to_date: true, reasons: [] },
        { name: 'count', state: 'up_to_date', up_to_date: true, reasons: [] },
      ],
    });
  });

  it('limits itself to the named stages and what they depend on', async () => {
    const result = await project.pipeline(['status', '--json', 'upper']);
    expect(JSON.parse(result.stdout).stages.map((s: { name: string }) => s.name)).toEqual(['files', 'upper']);
  });
});

describe('dag', () => {
  it('prints text, Mermaid and dot with the edges and their outputs', async () => {
    const text = await project.pipeline(['dag']);
    expect(text.stdout).toBe('files  [uses ./list.mjs]  -> files\nupper  [uses ./upper.mjs (map)]  -> upper  <- files.files\ncount  [cmd]  -> out/count.txt\n');
    const mermaid = await project.pipeline(['dag', '--mermaid']);
    expect(mermaid.stdout).toBe('flowchart LR\n  files[files]\n  upper[upper]\n  count[count]\n  files -->|files| upper\n');
    const dot = await project.pipeline(['dag', '--dot']);
    expect(dot.stdout).toBe('digraph pipeline {\n  rankdir=LR;\n  "files";\n  "upper";\n  "count";\n  "files" -> "upper" [label="files"];\n}\n');
  });
});

describe('sql', () => {
  const query = 'select path, text from upper order by path';

  it('--format csv quotes what needs quoting, with \\n line ends (a shell keeps no \\r)', async () => {
    const csv = await project.pipeline(['sql', '--format', 'csv', query]);
    expect(csv.code).toBe(0);
    expect(csv.stdout).toBe('path,text\nin/a.txt,ALPHA!\nin/b.txt,"BETA, ""QUOTED""!"\n');
  });

  it('--format json gives plain objects; the default is an aligned table', async () => {
    expect(await project.sql(query)).toEqual([
      { path: 'in/a.txt', text: 'ALPHA!' },
      { path: 'in/b.txt', text: 'BETA, "QUOTED"!' },
    ]);
    const table = await project.pipeline(['sql', query]);
    expect(table.stdout).toBe('path      text\n--------  ---------------\nin/a.txt  ALPHA!\nin/b.txt  BETA, "QUOTED"!\n');
  });

  it('a table fits the terminal ($COLUMNS without one), cutting wide cells with …, and shows newlines as \\n', async () => {
    const wide = "select 'two\nlines' as note, repeat('x', 60) as long, 7 as n";
    const whole = await project.pipeline(['sql', wide]);
    expect(whole.stdout.split('\n')[2]).toBe(`two\\nlines  ${'x'.repeat(60)}  7`);
    const fitted = await project.pipeline(['sql', wide], { COLUMNS: '40' });
    const lines = fitted.stdout.trimEnd().split('\n');
    expect(lines.every((l) => l.length <= 40)).toBe(true);
    expect(lines[2]).toBe(`two\\nlines  ${'x'.repeat(24)}…  7`);
  });

  it('a bad query or format is bad input', async () => {
    const unknown = await project.pipeline(['sql', 'select * from nosuch']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^error: query: SQL: .*nosuch/);
    const format = await project.pipeline(['sql', '--format', 'xml', query]);
    expect(format.code).toBe(2);
    expect(format.stderr.split('\n')[0]).toBe("error: option '--format <format>' argument 'xml' is invalid. Allowed choices are table, csv, json.");
  });
});

describe('run --dry-run', () => {
  it('says what would run and why, and runs nothing', async () => {
    project.write('in/c.txt', 'gamma\n');
    const lockBefore = project.read('pipeline.lock');
    const dry = await project.pipeline(['run', '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toBe(
      'files: would run: deps: 1 file added (in/c.txt)\nupper: would run: upstream files will run first\ncount: would run: deps: 1 file added (in/c.txt)\n',
    );
    expect(project.read('pipeline.lock')).toBe(lockBefore);
    expect(project.exists('out/count.txt') && project.read('out/count.txt').trim()).toBe('2');
    const json = await project.pipeline(['run', '--dry-run', '--json', 'files']);
    expect(JSON.parse(json.stdout)).toEqual({
      command: 'run', ok: true, exit_code: 0, dry_run: true,
      stages: [{ name: 'files', state: 'stale', up_to_date: false, reasons: ['deps: 1 file added (in/c.txt)'] }],
    });
    project.remove('in/c.txt');
  });
});
