// Stack mode re-tunes the stack through the real CLI on the demo parts: with
// benchmark.stack_weights, round 2 searches the promoted LoRA's and the candidate's
// weights together, records every weighting it judged (benchmark_stack), chooses the best
// that passes, and the loop writes the promoted LoRA's new weight into the state.
import { describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { copyExampleProject, runPipeline, sqlRows } from '../example-project.js';

/** Round 1 promotes at weight 0.5; the grid lets round 2 move every LoRA between 0.5 and 1. */
function stackProject(): string {
  const dir = copyExampleProject('sdloop-stack-');
  const file = join(dir, 'pipeline.yaml');
  const yaml = readFileSync(file, 'utf8');
  if (!/^ {4}weight: 1\.0$/m.test(yaml)) throw new Error('the example pipeline.yaml no longer sets benchmark.weight 1.0');
  writeFileSync(file, yaml.replace(/^ {4}weight: 1\.0$/m, '    weight: 0.5\n    stack_weights: [0.5, 1.0]\n    stack_points: 4'));
  return dir;
}

type Row = { stack: string[]; candidate_adherence: number; p_value: number; verdict: string; chosen: boolean };

describe('pipeline loop re-tunes the stack\'s weights', () => {
  it('searches the stacked weights together, keeps the best passing weighting and records it', () => {
    const dir = stackProject();
    const loop = runPipeline(dir, ['loop', '--rounds', '2'], 400_000);
    expect(loop.code, loop.stderr).toBe(0);
    const rounds = sqlRows<{ round: number; lora: string; verdict: string; reason: string }>(dir, 'select round, lora, verdict, reason from loop_rounds order by round');
    expect(rounds.map((r) => r.verdict), rounds.map((r) => r.reason).join('\n')).toEqual(['promote', 'promote']);
    const [first, second] = rounds as [typeof rounds[0], typeof rounds[0]];

    // Every stack point was judged at alpha / (1 epoch x weight point + 4 stack points).
    const tried = sqlRows<Row>(dir, 'select stack, candidate_adherence, p_value, verdict, chosen from benchmark_stack');
    expect(tried[0]!.stack).toEqual([`${first.lora}:0.5`, `${second.lora}:0.5`]);
    expect(tried.length).toBeGreaterThan(1);
    expect(tried.length).toBeLessThanOrEqual(5);
    const chosen = tried.filter((t) => t.chosen);
    expect(chosen).toHaveLength(1);
    const passing = tried.filter((t) => t.verdict === 'promote' && t.p_value < 0.05 / 5);
    expect(passing.length).toBe(tried.filter((t) => t.verdict === 'promote').length);
    expect(chosen[0]!.verdict).toBe('promote');
    expect(chosen[0]!.candidate_adherence).toBe(Math.max(...passing.map((t) => t.candidate_adherence)));

    // The demo LoRAs help more at full weight, so the search moves off the starting point.
    expect(chosen[0]!.stack).not.toEqual(tried[0]!.stack);
    const summary = sqlRows<{ stack: string[]; weight: number }>(dir, 'select stack, weight from benchmark_summary')[0]!;
    expect([...summary.stack, `${second.lora}:${summary.weight}`]).toEqual(chosen[0]!.stack);
    expect(second.reason).toContain(`stack re-tuned to ${chosen[0]!.stack.join(', ')} (the best of ${tried.length} stack points)`);
    const promoted = sqlRows<{ name: string; weight: number }>(dir, 'select name, weight from promoted_loras order by round');
    expect(promoted.map((p) => `${p.name}:${p.weight}`)).toEqual(chosen[0]!.stack);
  }, 600_000);
});
