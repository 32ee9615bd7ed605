// A per-theme loop through the real CLI, on a copy of the example project whose character
// prompts are planned under both of its themes (cyberpunk, fantasy): a round per theme,
// each LoRA judged on its theme's own values and promoted for that theme, then generate
// puts each LoRA into its own theme's prompts only, and the other images keep their identity.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { copyExampleProject } from '../example-project.js';

const repo = resolve(import.meta.dirname, '..', '..');

function pipeline(dir: string, ...args: string[]) {
  const result = spawnSync(process.execPath, [join(repo, 'bin', 'pipeline.js'), '-C', dir, ...args], { encoding: 'utf8', timeout: 240_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function sql<T>(dir: string, query: string): T[] {
  const out = pipeline(dir, 'sql', query, '--format', 'json');
  expect(out.code, out.stderr).toBe(0);
  return JSON.parse(out.stdout) as T[];
}

/** The example with both themes planned, loop.per_theme on, and each theme's hair colours as its benchmark plan. */
function themedProject(): string {
  const dir = copyExampleProject('sdloop-themes-');
  const file = join(dir, 'pipeline.yaml');
  const yaml = readFileSync(file, 'utf8')
    .replace('    theme: null\n', '    theme: [cyberpunk, fantasy]\n')
    .replace('  benchmark:\n', [
      '  loop:',
      '    per_theme: true',
      '  benchmark:',
      '    themes:',
      '      cyberpunk: {axes: {HairColor: {Neon: glowing neon pink hair, Chrome: metallic silver hair, Cyan: electric cyan hair}}}',
      '      fantasy: {axes: {HairColor: {Silver: long silver elf hair, Auburn: braided auburn hair, White: flowing white hair}}}',
      '',
    ].join('\n'));
  writeFileSync(file, yaml);
  return dir;
}

type Image = { prompt_id: string; theme: string | null; image_id: string; loras: string[] };
const IMAGES = 'select i.prompt_id, p.theme, i.image_id, i.loras from images i join prompts p using (prompt_id) order by i.prompt_id';

describe('pipeline loop with loop.per_theme', () => {
  it('trains, judges and promotes a LoRA per theme, and each renders into its own theme\'s prompts alone', () => {
    const dir = themedProject();
    const first = pipeline(dir, 'run');
    expect(first.code, first.stderr).toBe(0);
    const before = new Map(sql<Image>(dir, IMAGES).map((i) => [i.prompt_id, i]));

    const loop = pipeline(dir, 'loop');
    expect(loop.code, loop.stderr).toBe(0);
    const rounds = sql<{ round: number; theme: string; lora: string; verdict: string }>(dir, 'select round, theme, lora, verdict from loop_rounds order by round');
    expect(rounds.map((r) => [r.round, r.theme, r.verdict])).toEqual([[1, 'cyberpunk', 'promote'], [2, 'fantasy', 'promote']]);
    expect(rounds.map((r) => r.lora)).toEqual([expect.stringMatching(/^sdloop-theme-cyberpunk-/), expect.stringMatching(/^sdloop-theme-fantasy-/)]);
    const promoted = sql<{ name: string; theme: string }>(dir, 'select name, theme from promoted_loras order by round');
    expect(promoted).toEqual(rounds.map((r) => ({ name: r.lora, theme: r.theme })));

    // A plain run renders each theme's prompts with its LoRA and the unthemed ones as before.
    const run = pipeline(dir, 'run');
    expect(run.code, run.stderr).toBe(0);
    const after = sql<Image>(dir, IMAGES);
    const loraOf = Object.fromEntries(rounds.map((r) => [r.theme, `${r.lora}:1`]));
    for (const image of after) {
      expect(image.loras).toEqual(image.theme ? [loraOf[image.theme]] : []);
      if (image.theme === null) expect(image.image_id).toBe(before.get(image.prompt_id)!.image_id);
      else expect(image.image_id).not.toBe(before.get(image.prompt_id)!.image_id);
    }

    // Dropping one theme's LoRA takes that theme's images back to what they were: the
    // first run's, found in the memo under their old identity, so nothing renders.
    expect(pipeline(dir, 'promoted', '--drop', rounds[1]!.lora).code).toBe(0);
    const again = pipeline(dir, 'run', 'catalog');
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout + again.stderr).toMatch(new RegExp(`generate: running \\(theme LoRAs changed: .*fantasy.* -> cyberpunk:${rounds[0]!.lora}:`));
    expect(again.stdout + again.stderr).toMatch(new RegExp(`generate: done in [0-9.]+ s: 0 items run, ${after.length} reused`));
    for (const image of sql<Image>(dir, IMAGES)) {
      const was = image.theme === 'cyberpunk' ? after.find((a) => a.prompt_id === image.prompt_id)! : before.get(image.prompt_id)!;
      expect(image.image_id).toBe(was.image_id);
    }
  }, 480_000);
});
