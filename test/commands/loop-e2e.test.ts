// Two rounds of `pipeline loop` on the synthetic world, through the real CLI, on a copy
// of the example project: the rounds are recorded, the second generates with what the
// first promoted, and adherence is measured before and after each candidate.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { copyExampleProject } from '../example-project.js';

const repo = resolve(import.meta.dirname, '..', '..');

function pipeline(dir: string, ...args: string[]) {
  const result = spawnSync(process.execPath, [join(repo, 'bin', 'pipeline.js'), '-C', dir, ...args], { encoding: 'utf8', timeout: 170_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('pipeline loop on the synthetic world', () => {
  it('runs two rounds, records them and generates round 2 with the promoted LoRA', () => {
    const dir = copyExampleProject('sdloop-loop-');
    const started = Date.now();
    const loop = pipeline(dir, 'loop', '--rounds', '2');
    expect(loop.code, loop.stderr).toBe(0);
    expect(Date.now() - started).toBeLessThan(120_000);

    const rounds = JSON.parse(
      pipeline(dir, 'sql', 'select round, lora, verdict, adherence_before, adherence_after, promoted from loop_rounds order by round', '--format', 'json').stdout,
    ) as { round: number; lora: string; verdict: string; adherence_before: number; adherence_after: number; promoted: string[] }[];
    expect(rounds.map((r) => r.round)).toEqual([1, 2]);
    for (const r of rounds) {
      expect(['promote', 'reject']).toContain(r.verdict);
      expect(r.adherence_before).toBeGreaterThan(0);
      expect(r.adherence_after).toBeGreaterThan(0);
    }
    expect(rounds[0]!.verdict).toBe('promote');
    expect(rounds[0]!.adherence_after).toBeGreaterThan(rounds[0]!.adherence_before);
    expect(existsSync(join(dir, 'data', 'models', 'lora', `${rounds[0]!.lora}.safetensors`))).toBe(true);
    // Round 2's baseline is round 1's candidate: the promoted LoRA is now in every prompt.
    expect(rounds[1]!.adherence_before).toBeCloseTo(rounds[0]!.adherence_after, 6);
    const loras = JSON.parse(pipeline(dir, 'sql', 'select distinct unnest(loras) as lora from images', '--format', 'json').stdout) as { lora: string }[];
    expect(loras.map((l) => l.lora.split(':')[0])).toContain(rounds[0]!.lora);
    expect(readdirSync(join(dir, 'data', 'sessions')).length).toBeGreaterThan(0);
  }, 180_000);
});
