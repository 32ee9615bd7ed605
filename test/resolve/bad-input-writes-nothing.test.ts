// Bad input through the real CLI on the example project, after a first run: exit 2, the
// file (and line) at fault named, and data/ and pipeline.lock byte-identical afterwards,
// with no run left `running`.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyExampleProject } from '../example-project.js';
import { repoRoot } from '../engine/helpers.js';
import { MAX_YAML_BYTES } from '../../src/yaml-file.js';

const cli = join(repoRoot, 'bin', 'pipeline.js');
let dir: string;

function pipeline(args: string[]) {
  const result = spawnSync(process.execPath, [cli, '-C', dir, ...args], { encoding: 'utf8', env: { ...process.env, SDLOOP_DEBUG: '' } });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Every file under data/ and the lock, by path, with its bytes. */
function snapshot(): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (rel: string) => {
    for (const entry of readdirSync(join(dir, rel), { withFileTypes: true })) {
      const path = join(rel, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) files.set(path, readFileSync(join(dir, path)).toString('base64'));
    }
  };
  walk('data');
  files.set('pipeline.lock', readFileSync(join(dir, 'pipeline.lock')).toString('base64'));
  return files;
}

const original = new Map<string, string>();
function write(rel: string, text: string): void {
  const path = join(dir, rel);
  if (!original.has(rel)) original.set(rel, statSync(path, { throwIfNoEntry: false }) ? readFileSync(path, 'utf8') : '');
  writeFileSync(path, text);
}
function restore(): void {
  for (const [rel, text] of original) {
    if (text) writeFileSync(join(dir, rel), text);
    else rmSync(join(dir, rel), { force: true });
  }
  original.clear();
}
const edit = (rel: string, from: string, to: string) => write(rel, readFileSync(join(dir, rel), 'utf8').replace(from, to));

interface Case {
  name: string;
  setup(): void;
  args?: string[];
  /** every one must appear in stderr */
  errors: (string | RegExp)[];
}

const accessory = 'data/prompts/accessory.prompt.yaml';
const useVariations = (file: string) => edit(accessory, 'Accessory: ../variations/accessory.yaml', `Accessory: ../variations/${file}`);
const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]', ...'bcde'.split('').map((k, i) => `${k}: &${k} [${Array(9).fill(`*${'abcd'[i]}`).join(', ')}]`)].join('\n') + '\n';

const cases: Case[] = [
  {
    name: 'an unknown placeholder in a prompt file',
    setup: () => edit(accessory, '{Background}', '{Backdrop}'),
    errors: [/accessory\.prompt\.yaml:\d+:\d+: .*unknown placeholders: Backdrop/],
  },
  {
    name: 'a prompt file with two YAML errors, both reported',
    setup: () => write(accessory, 'name: x\nprompt: [1\nimports: {a\n'),
    errors: [/accessory\.prompt\.yaml:3:1: YAML syntax error/, /accessory\.prompt\.yaml:4:1: YAML syntax error/],
  },
  {
    name: 'a key written twice in a variations file',
    setup: () => {
      write('data/variations/twice.yaml', 'Ring: a ring\nHat: a hat\nRing: another ring\n');
      useVariations('twice.yaml');
    },
    errors: [/twice\.yaml:3:1: YAML syntax error: duplicate key "Ring" \(first written at line 1\)/],
  },
  {
    name: 'an alias bomb (billion laughs)',
    setup: () => {
      write('data/variations/bomb.yaml', bomb);
      useVariations('bomb.yaml');
    },
    errors: [/bomb\.yaml:2:\d+: YAML aliases expand to more than 1000 copies/],
  },
  {
    name: 'a variations file over the size cap',
    setup: () => {
      write('data/variations/huge.yaml', `Big: "${'x'.repeat(MAX_YAML_BYTES)}"\n`);
      useVariations('huge.yaml');
    },
    errors: [/huge\.yaml: .* MB is over the 32 MB a YAML file may have/],
  },
  {
    name: 'a symlink loop among the prompt files',
    setup: () => {
      symlinkSync('loop-b.prompt.yaml', join(dir, 'data/prompts/loop-a.prompt.yaml'));
      symlinkSync('loop-a.prompt.yaml', join(dir, 'data/prompts/loop-b.prompt.yaml'));
      original.set('data/prompts/loop-a.prompt.yaml', '');
      original.set('data/prompts/loop-b.prompt.yaml', '');
    },
    errors: [/data\/prompts\/loop-[ab]\.prompt\.yaml: a symlink loop/],
  },
  {
    name: 'a pipeline.yaml syntax error',
    setup: () => edit('pipeline.yaml', 'params:\n', 'params:\n  resolve: [1\n'),
    errors: [/pipeline\.yaml:\d+:\d+: YAML syntax error/],
  },
  {
    name: 'an empty benchmark plan in pipeline.yaml, caught before any stage runs',
    setup: () => edit('pipeline.yaml', '    axes:\n', '    axes: {}\n    unused_axes:\n'),
    errors: [/pipeline\.yaml:\d+:\d+: params\.benchmark\.axes: expected a fixed plan/],
  },
  {
    name: 'an empty benchmark plan from --set, naming the argument',
    setup: () => undefined,
    args: ['--set', 'benchmark.axes={}'],
    errors: ['--set benchmark.axes={}: expected a fixed plan'],
  },
  {
    name: 'a --set reaching the prototype',
    setup: () => undefined,
    args: ['--set', '__proto__.polluted=1'],
    errors: ['--set __proto__.polluted=1: "__proto__" cannot be a param name'],
  },
];

describe('bad input writes nothing', () => {
  let before: Map<string, string>;
  beforeAll(() => {
    dir = copyExampleProject();
    const first = pipeline(['run', 'resolve']);
    expect(first.code, first.stderr).toBe(0);
    before = snapshot();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each(cases)('$name', (c) => {
    let result;
    try {
      c.setup();
      result = pipeline(['run', ...(c.args ?? [])]);
    } finally {
      restore();
    }
    expect(result.code, result.stderr).toBe(2);
    for (const error of c.errors) expect(result.stderr).toMatch(error);
    // The bad input itself is gone again: what is left is what the run wrote, which must be nothing.
    expect(snapshot()).toEqual(before);
  });

  it('leaves no run row open', () => {
    const runs = pipeline(['sql', '--format', 'json', 'select status from runs']);
    expect(runs.code, runs.stderr).toBe(0);
    expect((JSON.parse(runs.stdout) as { status: string }[]).map((r) => r.status)).toEqual(['ok']);
  });
});
