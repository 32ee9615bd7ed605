// Keys sdgen users write and older files: `sampler`, `base_path`, `template:` in a prompt
// file, V1 `variations:` blocks, and `mode: ask` / `seed_mode: ask` (asked on a terminal,
// a clear error without one), all through the real CLI.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { finished, repoRoot } from '../engine/helpers.js';
import { pipelineIn, projectYaml, writeFiles } from './cli.js';

const gen = 'generation:\n  mode: combinatorial\n  seed: 5\n  seed_mode: progressive\n  max_images: 0\n';
const colors = 'Red: red\nBlue: blue\n';

async function planJson(dir: string, file: string, extra: string[] = []) {
  const result = await pipelineIn(dir, ['plan', file, '--format', 'json', ...extra]);
  return { ...result, rows: result.code === 0 ? (JSON.parse(result.stdout) as { api_prompt: string; seed: number; params: Record<string, unknown> }[]) : [] };
}

describe('sdgen keys and older forms', () => {
  it('sends sampler (sdgen) over sampler_name and says so when they differ', async () => {
    const dir = writeFiles({
      'pipeline.yaml': projectYaml, 'colors.yaml': colors,
      'a.prompt.yaml': `name: a\nprompt: "{C}"\nimports:\n  C: colors.yaml\nparameters:\n  sampler: DPM++ 2M\n  sampler_name: Euler a\n${gen}`,
    });
    const payloads = join(dir, 'out');
    const result = await pipelineIn(dir, ['plan', 'a.prompt.yaml', '--payloads', payloads]);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/sampler "DPM\+\+ 2M" and sampler_name "Euler a"; sampler \(sdgen's key\) is sent/);
    const { readFileSync } = await import('node:fs');
    expect(JSON.parse(readFileSync(join(payloads, '0000.json'), 'utf8')).sampler_name).toBe('DPM++ 2M');
  });

  it('reads base_path and an older `template:` prompt key, warning with the V2.0 key', async () => {
    const dir = writeFiles({
      'pipeline.yaml': projectYaml, 'variations/colors.yaml': colors,
      'prompts/old/a.prompt.yaml': `name: a\nbase_path: ../..\ntemplate: "a {C} car"\nimports:\n  C: variations/colors.yaml\n${gen}`,
    });
    const { code, rows, stderr } = await planJson(dir, 'prompts/old/a.prompt.yaml');
    expect(code, stderr).toBe(0);
    expect(rows.map((r) => r.api_prompt)).toEqual(['a red car', 'a blue car']);
    expect(stderr).toMatch(/`template:` is the older key of a prompt file; V2.0 writes `prompt:`/);
    const validate = await pipelineIn(dir, ['validate', 'prompts/old/a.prompt.yaml']);
    expect(validate.code, validate.stderr).toBe(0);
    expect(validate.stderr).toMatch(/warning: .*`template:` is the older key/);
    expect(validate.stderr).not.toMatch(/unknown key/);
  });

  it('rejects a V1 variations: block naming imports:', async () => {
    const dir = writeFiles({ 'pipeline.yaml': projectYaml, 'a.prompt.yaml': `name: a\nprompt: "{C}"\nvariations:\n  C: colors.txt\n${gen}` });
    const result = await pipelineIn(dir, ['plan', 'a.prompt.yaml']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/a\.prompt\.yaml:4:3: variations: old `variations:` block \(sdgen V1\); V2\.0 names the variation files under `imports:`/);
  });

  it('mode: ask without a terminal names the options; with them it plans', async () => {
    const dir = writeFiles({
      'pipeline.yaml': projectYaml, 'colors.yaml': colors,
      'a.prompt.yaml': `name: a\nprompt: "{C}"\nimports:\n  C: colors.yaml\ngeneration:\n  mode: ask\n  seed: 5\n  seed_mode: ask\n  max_images: 2\n`,
    });
    const bare = await pipelineIn(dir, ['plan', 'a.prompt.yaml']);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toMatch(/a\.prompt\.yaml:6:9: generation\.mode: mode: ask needs an answer: run `pipeline plan` on a terminal to be asked, or pass --mode combinatorial\|random/);
    const { rows } = await planJson(dir, 'a.prompt.yaml', ['--mode', 'combinatorial', '--seed-mode', 'fixed']);
    expect(rows.map((r) => [r.api_prompt, r.seed])).toEqual([['red', 5], ['blue', 5]]);
  });

  it('mode: ask asks on a terminal (keys typed into a pseudo-terminal)', async () => {
    const dir = writeFiles({
      'pipeline.yaml': projectYaml, 'colors.yaml': colors,
      'a.prompt.yaml': `name: a\nprompt: "{C}"\nimports:\n  C: colors.yaml\ngeneration:\n  mode: combinatorial\n  seed: 5\n  seed_mode: ask\n  max_images: 0\n`,
    });
    // script(1) gives the CLI a terminal; the keys pick the second choice (progressive).
    const command = `node ${join(repoRoot, 'bin', 'pipeline.js')} plan a.prompt.yaml --format csv`;
    const child = spawn('script', ['-qfec', command, '/dev/null'], { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
    let seen = '';
    child.stdout!.on('data', (d: Buffer) => {
      const before = seen;
      seen += d.toString();
      if (!before.includes('seed mode') && seen.includes('seed mode')) child.stdin!.write('\x1b[B\r');
    });
    const result = await finished(child);
    expect(result.code).toBe(0);
    expect(seen).toMatch(/a\.prompt\.yaml: seed mode/);
    expect(seen).toMatch(/,red,.*,5,/);
    expect(seen).toMatch(/,blue,.*,6,/);
  });
});
