// The CLI's own surface, as a user meets it: every command's --help and -h, --version,
// suggestions for typos, and gc listing before it deletes anything.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { finished, repoRoot, TestProject } from './helpers.js';

/** Each command with the options its help must list (besides -h, --help and the global ones). */
const commands: Record<string, string[]> = {
  run: ['--force', '--dry-run', '-j, --jobs <n>', '--json'],
  status: ['--json', '-q, --quiet'],
  dag: ['--mermaid', '--dot', '--json'],
  sql: ['--format <format>', '--json'],
  gc: ['--apply', '--dry-run', '--json'],
  plan: ['--theme <spec>', '--style <name>', '--seeds <spec>', '--fixed <spec>', '--count <n>', '--format <format>', '--payloads <dir>', '--json'],
  validate: ['--format <format>', '--json'],
  themes: ['--template <file>', '--compact', '--tag <tag>', '--style <style>', '--from <theme>', '--json'],
  pick: ['--theme <name>', '--style <name>'],
  api: ['--endpoint <url>', '--format <format>', '--json'],
  schema: ['--out <dir>', '--json'],
  label: ['--reject', '--csv <file>', '--json'],
  report: ['--format <format>', '--param <name=value>', '--html <file>', '--json'],
  prune: ['--where <predicate>', '--apply', '--restore', '--batch <name>', '--json'],
  loop: ['--rounds <n>', '--until-no-gain', '--schedule <cron>', '--targeted', '--json'],
};

/** The fixture project with the SD loop's command module, so project commands are there too. */
function projectWithCommands(): TestProject {
  const project = TestProject.create();
  project.write('pipeline.yaml', `commands: [commands]\n${project.read('pipeline.yaml')}`);
  return project;
}

let project: TestProject;
beforeAll(() => {
  project = projectWithCommands();
});
afterAll(() => project.dispose());

describe('help', () => {
  it.each(Object.entries(commands))('%s --help and -h print its own usage, options and an example', async (name, options) => {
    const [long, short] = await Promise.all([project.pipeline([name, '--help']), project.pipeline([name, '-h'])]);
    for (const help of [long, short]) {
      expect(help.code, help.stderr).toBe(0);
      expect(help.stderr).toBe('');
      expect(help.stdout).toMatch(new RegExp(`^Usage: pipeline ${name} `));
      for (const option of [...options, '-h, --help', '-C, --dir <dir>', '-S, --set <PATH=VALUE>']) expect(help.stdout).toContain(`  ${option} `);
      expect(help.stdout).toMatch(new RegExp(`\\nExamples:\\n  \\$ pipeline ${name}\\b`));
    }
    expect(short.stdout).toBe(long.stdout);
  });

  it('the overall help lists the engine commands and the project ones', async () => {
    const help = await project.pipeline(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: pipeline \[-C DIR\] <command> \[options\]\n/);
    const listed = (heading: string) => help.stdout.split(`${heading}\n`)[1]!.split('\n\n')[0]!.split('\n').map((l) => l.trim().split(' ')[0]);
    expect(listed('Commands:')).toEqual(['run', 'status', 'dag', 'sql', 'gc', 'worker', 'help']);
    expect(listed('Project commands (pipeline.yaml commands:):')).toEqual(['plan', 'validate', 'themes', 'pick', 'api', 'schema', 'label', 'report', 'prune', 'loop', 'promoted', 'serve']);
    expect((await project.pipeline(['help', 'gc'])).stdout).toBe((await project.pipeline(['gc', '--help'])).stdout);
  });

  it('--version and -V print the version in package.json', async () => {
    const { version } = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const result = await project.pipeline([flag]);
      expect(result).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
    }
  });
});

describe('typos and bad options: a suggestion, exit 2', () => {
  it('an unknown command suggests the near one', async () => {
    const result = await project.pipeline(['rn']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^error: unknown command 'rn'\n\(Did you mean run\?\)/);
    expect(result.stdout).toBe('');
    expect((await project.pipeline(['prnue'])).stderr).toContain('(Did you mean prune?)');
  });

  it('an unknown option suggests the near one, also on project commands', async () => {
    const run = await project.pipeline(['run', '--forse']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^error: unknown option '--forse'\n\(Did you mean --force\?\)/);
    const loop = await project.pipeline(['loop', '--round', '2']);
    expect(loop.code).toBe(2);
    expect(loop.stderr).toMatch(/^error: unknown option '--round'\n\(Did you mean --rounds\?\)/);
  });

  it('bad, missing and conflicting values name the option', async () => {
    const cases: [string[], string][] = [
      [['gc', '--bogus'], "error: unknown option '--bogus'"],
      [['run', '--jobs', 'x'], "error: option '-j, --jobs <n>' argument 'x' is invalid. expected a whole number >= 1"],
      [['run', '--jobs'], "error: option '-j, --jobs <n>' argument missing"],
      [['plan', 'a.prompt.yaml', '--count', '-1'], "error: option '--count <n>' argument '-1' is invalid. expected a whole number >= 0"],
      [['gc', '--apply', '--dry-run'], "error: option '--dry-run' cannot be used with option '--apply'"],
      [['status', '-C'], "error: option '-C, --dir <dir>' argument missing"],
    ];
    for (const [args, message] of cases) {
      const result = await project.pipeline(args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr.split('\n')[0], args.join(' ')).toBe(message);
    }
  });

  it('-C and --set work before and after the command', async () => {
    const ran = TestProject.create();
    try {
      expect((await ran.run()).code).toBe(0);
      const before = await ran.pipeline(['--set', 'upper.batch=3', 'status', '--json']);
      expect(before.code).toBe(0);
      expect(JSON.parse(before.stdout).stages[1].reasons).toContain('param upper.batch changed: 10 -> 3');
      // Not through ran.pipeline, which puts -C first.
      const child = spawn(process.execPath, [join(repoRoot, 'bin', 'pipeline.js'), 'status', '--json', '-S', 'upper.batch=3', '-C', ran.dir], { cwd: tmpdir() });
      const after = await finished(child);
      expect(after).toEqual(before);
    } finally {
      ran.dispose();
    }
  });
});

describe('gc', () => {
  let gcProject: TestProject;
  const stray = 'data/objects/ab/ab12cd34ef.png';
  const memoFiles = () => readdirSync(gcProject.path('data/memo'), { recursive: true }).filter((f) => String(f).endsWith('.parquet')).length;

  beforeAll(async () => {
    gcProject = TestProject.create();
    expect((await gcProject.run()).code).toBe(0);
    // A param change leaves the first results memoised under the old fingerprint.
    expect((await gcProject.run(['--set', 'upper.suffix="?"'])).code).toBe(0);
    gcProject.write(stray, 'x'.repeat(100));
  });
  afterAll(() => gcProject.dispose());

  it('lists what it would free and deletes nothing without --apply; --apply frees it', async () => {
    const partsBefore = memoFiles();
    const listing = await gcProject.pipeline(['gc']);
    expect(listing.code).toBe(0);
    expect(listing.stdout).toMatch(/^gc: would free 2 memo rows, 1 memo part and 1 object \(\d+(\.\d)? (B|KiB)\) nothing refers to; nothing deleted \(add --apply to delete them\)\n$/);
    expect((await gcProject.pipeline(['gc', '--dry-run'])).stdout).toBe(listing.stdout);
    const json = JSON.parse((await gcProject.pipeline(['gc', '--json'])).stdout);
    expect(json).toMatchObject({ memo_rows: 2, parts: 1, objects: 1, applied: false });
    expect(json.bytes).toBeGreaterThan(100);
    expect(gcProject.exists(stray)).toBe(true);
    expect(memoFiles()).toBe(partsBefore);

    const applied = await gcProject.pipeline(['gc', '--apply', '--json']);
    expect(JSON.parse(applied.stdout)).toEqual({ ...json, applied: true });
    expect(gcProject.exists(stray)).toBe(false);
    expect(memoFiles()).toBe(partsBefore - 1);
    expect((await gcProject.pipeline(['gc'])).stdout).toBe('gc: nothing to free\n');
    // What the current outputs use stayed: the run under the current param has nothing to do.
    expect((await gcProject.run(['--set', 'upper.suffix="?"'])).stages.map((s) => s.status)).toEqual(['skipped', 'skipped', 'skipped']);
  });
});
