// Two rounds of `pipeline loop` on the synthetic world, through the real CLI, on a copy
// of the example project: the rounds are recorded, the second generates with what the
// first promoted, and adherence is measured before and after each candidate; afterwards a
// plain `pipeline run` renders with the promoted LoRAs too.
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
    const loop = pipeline(dir, 'loop', '--rounds', '2');
    expect(loop.code, loop.stderr).toBe(0);

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

    // The promoted LoRAs are project state: status after the loop names the one change a
    // plain run would act on (the set the last round promoted), and a plain run uses it.
    type Status = { stages: { name: string; up_to_date: boolean; reasons: string[] }[] };
    const stale = (JSON.parse(pipeline(dir, 'status', '--json').stdout) as Status).stages.filter((s) => !s.up_to_date);
    const own = stale.flatMap((s) => s.reasons.filter((r) => !r.startsWith('upstream ') && !r.startsWith('items: ')).map((r) => `${s.name}: ${r}`));
    expect(own).toHaveLength(rounds[1]!.verdict === 'promote' ? 1 : 0);
    if (own.length) expect(own[0]).toMatch(new RegExp(`^generate: the promoted LoRAs changed \\(.*,${rounds[1]!.lora}:`));
    const listed = pipeline(dir, 'promoted');
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout.split('\n').filter(Boolean).map((l) => l.split('\t')[0])).toEqual(rounds.filter((r) => r.verdict === 'promote').map((r) => r.lora));
    const run = pipeline(dir, 'run');
    expect(run.code, run.stderr).toBe(0);
    expect((JSON.parse(pipeline(dir, 'status', '--json').stdout) as Status).stages.every((s) => s.up_to_date)).toBe(true);
    const after = JSON.parse(pipeline(dir, 'sql', 'select distinct unnest(loras) as lora from images', '--format', 'json').stdout) as { lora: string }[];
    expect(after.map((l) => l.lora.split(':')[0])).toEqual(expect.arrayContaining(rounds.filter((r) => r.verdict === 'promote').map((r) => r.lora)));
  }, 240_000);
});
