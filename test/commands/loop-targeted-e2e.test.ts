// Three `pipeline loop --targeted` rounds on the synthetic world, through the real CLI, on
// a copy of the example project: each round picks the benchmarked value with the lowest
// Wilson upper bound, trains a micro-LoRA on a focused batch of it, and the benchmark's
// paired test on that value's prompts shows its success rate rise.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { copyExampleProject } from '../example-project.js';

const repo = resolve(import.meta.dirname, '..', '..');

function pipeline(dir: string, ...args: string[]) {
  const result = spawnSync(process.execPath, [join(repo, 'bin', 'pipeline.js'), '-C', dir, ...args], { encoding: 'utf8', timeout: 500_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

interface Round {
  round: number;
  target: string;
  lora: string;
  verdict: string;
  adherence_before: number;
  adherence_after: number;
  reason: string;
}

describe('pipeline loop --targeted on the synthetic world', () => {
  it('three targeted rounds each raise their value\'s success rate, with paired p-values under alpha', () => {
    const dir = copyExampleProject('sdloop-targeted-');
    const loop = pipeline(dir, 'loop', '--targeted', '--rounds', '3');
    expect(loop.code, loop.stderr).toBe(0);
    const rounds = JSON.parse(
      pipeline(dir, 'sql', 'select round, target, lora, verdict, adherence_before, adherence_after, reason from loop_rounds order by round', '--format', 'json').stdout,
    ) as Round[];
    expect(rounds.map((r) => r.round)).toEqual([1, 2, 3]);
    const benchmarked = ['HairColor=Blonde', 'HairColor=Black', 'HairColor=Red', 'HairColor=Blue', 'Background=Garden', 'Background=Studio', 'Background=Snow'];
    for (const r of rounds) {
      expect(benchmarked).toContain(r.target);
      const [axis, value] = r.target.split('=');
      expect(r.lora.startsWith(`sdloop-${axis!.toLowerCase()}-${value!.toLowerCase()}-`)).toBe(true);
      expect(r.verdict).toBe('promote');
      expect(r.adherence_after).toBeGreaterThan(r.adherence_before);
      const p = Number(/McNemar one-sided p = ([\d.e+-]+)/.exec(r.reason)?.[1]);
      expect(p).toBeLessThan(0.05);
      console.log(`round ${r.round} ${r.target}: ${r.adherence_before} -> ${r.adherence_after}, paired p = ${p}`);
    }
    // A promoted micro-LoRA makes its value no longer the weakest: the next round moves on.
    expect(new Set(rounds.map((r) => r.target)).size).toBe(3);
    const promoted = pipeline(dir, 'promoted').stdout.split('\n').filter(Boolean).map((l) => l.split('\t')[0]);
    expect(promoted).toEqual(rounds.map((r) => r.lora));
  }, 600_000);
});
