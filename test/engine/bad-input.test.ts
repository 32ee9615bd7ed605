// Every kind of bad input: a message that says where and what was expected, exit 2, and
// nothing written (no data/ state, no pipeline.lock).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestProject } from './helpers.js';

let project: TestProject;
beforeAll(() => {
  project = TestProject.create();
});
afterAll(() => project.dispose());

const files = `  files:\n    uses: ./list.mjs\n    deps: [in]\n`;

interface Case {
  name: string;
  yaml: string;
  args?: string[];
  /** the whole first stderr line, with FILE standing for pipeline.yaml (named relative to the project) */
  error: string | RegExp;
}

const cases: Case[] = [
  {
    name: 'malformed YAML, at file:line:col',
    yaml: `stages:\n  files: {uses: ./list.mjs\n  other: 1\n`,
    error: /^error: FILE:3:3: YAML syntax error: .+/,
  },
  {
    name: 'a schema violation, with the zod path and what was expected',
    yaml: `stages:\n${files}  count:\n    cmd: echo\n    deps: 3\n`,
    error: 'error: FILE:7:11: stages.count.deps: Invalid input: expected array, received number',
  },
  {
    name: 'an unknown key in a stage',
    yaml: `stages:\n${files}    colour: red\n`,
    error: 'error: FILE:3:5: stages.files: Unrecognized key: "colour"',
  },
  {
    name: 'a stage with neither uses nor cmd',
    yaml: `stages:\n  empty:\n    deps: [in]\n`,
    error: 'error: FILE:3:5: stages.empty: a stage needs exactly one of `uses:` or `cmd:`',
  },
  {
    name: 'an input from an unknown stage',
    yaml: `stages:\n${files}  upper:\n    uses: ./upper.mjs\n    inputs: {files: lister.files}\n`,
    error: /^error: FILE:\d+:\d+: stages\.upper\.inputs\.files: unknown stage "lister" \(stages: files, upper\)$/,
  },
  {
    name: 'an input naming an output the stage does not have',
    yaml: `stages:\n${files}  upper:\n    uses: ./upper.mjs\n    inputs: {files: files.rows}\n`,
    error: /^error: FILE:\d+:\d+: stages\.upper\.inputs\.files: stage files has no output "rows" \(it has: files\)$/,
  },
  {
    name: 'a cycle, printed',
    yaml: `stages:\n  a:\n    cmd: cp b.txt a.txt\n    deps: [b.txt]\n    outs: [a.txt]\n  b:\n    cmd: cp a.txt b.txt\n    deps: [a.txt]\n    outs: [b.txt]\n`,
    error: /^error: FILE:\d+:\d+: stages\.[ab]: the stages form a cycle: (a -> b -> a|b -> a -> b)$/,
  },
  {
    name: 'a stage module that does not export a stage',
    yaml: `stages:\n  odd:\n    uses: ./not-a-stage.mjs\n`,
    error: /^error: FILE:3:11: stages\.odd\.uses: .*not-a-stage\.mjs does not export a stage: its default export must be defineStage\(\.\.\.\) or defineMapStage\(\.\.\.\)$/,
  },
  {
    name: 'a stage module that does not exist',
    yaml: `stages:\n  gone:\n    uses: ./gone.mjs\n`,
    error: /^error: FILE:3:11: stages\.gone\.uses: stage module "\.\/gone\.mjs" not found/,
  },
  {
    name: 'a dep that no stage produces and no file matches',
    yaml: `stages:\n  count:\n    cmd: wc -l nothere.txt > out.txt\n    deps: [nothere.txt]\n    outs: [out.txt]\n`,
    error: /^error: FILE.*: stages\.count\.deps(\[0\])?: dep "nothere\.txt" (matches no file|does not exist) and no stage produces it$/,
  },
  {
    name: 'an unknown target stage, rejected before data/ is created',
    yaml: `stages:\n${files}`,
    args: ['run', 'nosuch'],
    error: 'error: stage: unknown stage "nosuch" (stages: files)',
  },
  {
    name: 'a param that fails the stage module schema, before any stage runs',
    yaml: `params:\n  upper: {suffix: 3}\nstages:\n${files}  upper:\n    uses: ./upper.mjs\n    params: [upper]\n    inputs: {files: files.files}\n`,
    error: /^error: FILE.*: params\.upper\.suffix: Invalid input: expected string, received number \(read by stage upper\)$/,
  },
  {
    name: 'a --set without a value',
    yaml: `stages:\n${files}`,
    args: ['run', '--set', 'upper.suffix'],
    error: 'error: --set expects PATH=VALUE with a dotted param path, got "upper.suffix"',
  },
  {
    name: 'a bad --jobs',
    yaml: `stages:\n${files}`,
    args: ['run', '--jobs', 'many'],
    error: "error: option '-j, --jobs <n>' argument 'many' is invalid. expected a whole number >= 1",
  },
  {
    name: 'an unknown option',
    yaml: `stages:\n${files}`,
    args: ['status', '--colour'],
    error: "error: unknown option '--colour'",
  },
  {
    name: 'an unknown command',
    yaml: `stages:\n${files}`,
    args: ['frobnicate'],
    error: "error: unknown command 'frobnicate'",
  },
];

describe('bad input: clear message, exit 2, nothing written', () => {
  it.each(cases)('$name', async ({ yaml, args, error }) => {
    project.remove('data');
    project.remove('pipeline.lock');
    project.write('pipeline.yaml', yaml);
    const result = await project.pipeline(args ?? ['run']);
    const firstLine = result.stderr.split('\n')[0]!.replace(/^error: pipeline\.yaml\b/, 'error: FILE');
    if (typeof error === 'string') expect(firstLine).toBe(error);
    else expect(firstLine).toMatch(error);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(project.exists('data'), 'data/ was created').toBe(false);
    expect(project.exists('pipeline.lock'), 'pipeline.lock was created').toBe(false);
  });

  it('reports every schema violation of pipeline.yaml at once, each at its line', async () => {
    project.write('pipeline.yaml', `stages:\n  a:\n    cmd: echo\n    deps: 3\n  b:\n    cmd: echo\n    outs: x\n`);
    const result = await project.pipeline(['status']);
    expect(result.code).toBe(2);
    const lines = result.stderr.trim().split('\n').map((l) => l.replace(/^error: pipeline\.yaml\b/, 'error: FILE'));
    expect(lines).toEqual([
      'error: FILE:4:11: stages.a.deps: Invalid input: expected array, received number',
      'error: FILE:7:11: stages.b.outs: Invalid input: expected array, received string',
    ]);
  });

  it('says so when there is no pipeline.yaml', async () => {
    project.remove('pipeline.yaml');
    const result = await project.pipeline(['status']);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(`error: pipeline.yaml: no pipeline.yaml in ${project.dir} (run inside a project folder or one below it, or pass -C DIR)\n`);
  });
});
