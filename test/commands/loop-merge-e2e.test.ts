// loop.promote merge on the demo parts, through the real CLI: the simulated merge makes a
// checkpoint that acts in the synthetic world as the LoRA at its weight (the next round's
// baseline scores what the candidate scored), it is registered like sd-scripts' own,
// and it is project state: a plain run renders and trains with it, so status settles,
// and `pipeline promoted --drop` undoes it.
import { describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { copyExampleProject, runPipeline, sqlRows } from '../example-project.js';
import { readSafetensorsHeader } from '../../adapters/safetensors.js';
import { hashFile } from '../../src/hash.js';

type Status = { stages: { name: string; up_to_date: boolean; reasons: string[] }[] };
const status = (dir: string) => JSON.parse(runPipeline(dir, ['status', '--json']).stdout) as Status;
/** Each stale stage's own reasons, leaving out what follows from upstream and the item counts. */
const ownReasons = (s: Status) => s.stages.flatMap((st) => st.reasons.filter((r) => !r.startsWith('upstream ') && !r.startsWith('items: ')).map((r) => `${st.name}: ${r}`));

function mergeProject(): string {
  const dir = copyExampleProject('sdloop-merge-');
  const file = join(dir, 'pipeline.yaml');
  writeFileSync(file, readFileSync(file, 'utf8').replace('  benchmark:\n', '  loop:\n    promote: merge\n  benchmark:\n'));
  return dir;
}

type Round = { round: number; lora: string; verdict: string; adherence_before: number; adherence_after: number; reason: string };
type Merged = { name: string; path: string; hash: string; base: string; lora: string; ratio: number; round: number };

describe('pipeline loop with loop.promote merge on the demo parts', () => {
  it('merges the winner by simulation, renders and trains with it in every later run, and drops it on request', async () => {
    const dir = mergeProject();
    const loop = runPipeline(dir, ['loop', '--rounds', '2'], 300_000);
    expect(loop.code, loop.stderr).toBe(0);
    const rounds = sqlRows<Round>(dir, 'select round, lora, verdict, adherence_before, adherence_after, reason from loop_rounds order by round');
    expect(rounds[0]!.verdict, rounds[0]!.reason).toBe('promote');
    const merged = sqlRows<Merged>(dir, 'select * from merged_checkpoints order by round');
    expect(merged[0]).toMatchObject({ name: `${rounds[0]!.lora}-merged`, base: 'sdloop-synthetic-demo', lora: rounds[0]!.lora, ratio: 1, round: 1 });
    const file = join(dir, merged[0]!.path);
    expect(await hashFile(file)).toBe(merged[0]!.hash);
    const { metadata } = await readSafetensorsHeader(file);
    expect(metadata['modelspec.merged_from']).toBe(rounds[0]!.lora);
    expect(sqlRows<{ n: number }>(dir, 'select count(*)::INT as n from promoted_loras')[0]!.n).toBe(0);

    // Merged at its weight, the LoRA acts as it did in the prompt: round 2's baseline (the
    // merged checkpoint, no LoRA) scores exactly what round 1's candidate scored.
    expect(rounds[1]!.adherence_before).toBeCloseTo(rounds[0]!.adherence_after, 6);
    // Round 2 trained on the merged checkpoint with no override, and its images name it.
    expect(loop.stdout).not.toContain('ran with the');
    expect(sqlRows<{ base_model: string }>(dir, 'select distinct base_model from lora_info')).toEqual([{ base_model: merged[0]!.path }]);
    expect(sqlRows<{ model_name: string }>(dir, 'select distinct model_name from images where origin = \'generated\'')).toEqual([{ model_name: merged[0]!.name }]);

    // Status names only what the last round's own promotion changed, never a param.
    const last = merged.at(-1)!;
    const own = ownReasons(status(dir));
    if (rounds[1]!.verdict === 'promote') {
      // (train and benchmark, downstream of generate, show as "upstream ... will run first")
      expect(own).toEqual([expect.stringMatching(new RegExp(`^generate: the checkpoint the loop merged \\(loop.promote merge\\) changed \\(.* -> ${last.name}:`))]);
      expect(runPipeline(dir, ['run'], 240_000).code).toBe(0);
    } else {
      expect(own).toEqual([]);
    }
    expect(status(dir).stages.every((s) => s.up_to_date)).toBe(true);
    const again = runPipeline(dir, ['run']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout + again.stderr).not.toMatch(/: running/);

    const listed = runPipeline(dir, ['promoted']);
    expect(listed.stdout).toContain(`${last.name}\tmerged checkpoint (${last.lora} at ${last.ratio})`);
    const drop = runPipeline(dir, ['promoted', '--drop', merged[0]!.name]);
    expect(drop.code, drop.stderr).toBe(0);
    expect(drop.stdout).toMatch(new RegExp(`^dropped ${merged[0]!.name}.*: the next run renders with generate.model and trains on train.base_model again`));
    expect(sqlRows(dir, 'select * from merged_checkpoints')).toEqual([]);
    expect(ownReasons(status(dir))).toEqual([expect.stringMatching(new RegExp(`^generate: the checkpoint the loop merged \\(loop.promote merge\\) removed \\(was ${last.name}:${last.hash}\\)`))]);
  }, 600_000);
});
