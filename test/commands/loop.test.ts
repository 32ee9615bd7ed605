import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { DuckDBConnection } from '@duckdb/node-api';
import { invokeCommand, type CommandContext, type RunOptions, type RunSummary } from '../../src/command.js';
import { InputError } from '../../src/errors.js';
import { ensureLoopTables, openRound, sqlLiteral, loopRounds, promotedLoras } from '../../commands/loop-state.js';
import loop, { loopOptions, runOnSchedule, runRounds } from '../../commands/loop.js';
import { freshDir } from '../train/fixtures.js';
import { generateParams } from '../../stages/generate/backend.js';
import { readPromoted, withPromoted } from '../../stages/generate/promoted.js';

/** `pick`: the benchmark chose the file saved at that epoch, at that weight */
type Outcome = { verdict: 'promote' | 'reject'; before: number; after: number; pick?: { epoch: number; weight: number } } | { fail: number } | { crash: string };

interface Fake {
  ctx: CommandContext;
  runs: RunOptions[];
  /** generate's LoRAs at each run, as the stage reads them: its params plus the promoted state */
  rendered: string[][];
  out: string[];
  close(): void;
}

const opened: Fake[] = [];
afterEach(() => {
  for (const f of opened.splice(0)) f.close();
});

/**
 * A CommandContext over a real DuckDB: `run` plays the pipeline by writing the tables
 * train and benchmark would (lora_info, benchmark_summary) from a script of outcomes.
 */
async function fakeContext(script: Outcome[], params: Record<string, unknown> = {}, dir = freshDir('loop')): Promise<Fake> {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const db = await DuckDBInstance.create(':memory:');
  const connection: DuckDBConnection = await db.connect();
  const runs: RunOptions[] = [];
  const rendered: string[][] = [];
  const out: string[] = [];
  const sql = async <T,>(query: string, values?: Record<string, unknown>) => (await connection.runAndReadAll(query, values as never)).getRowObjectsJson() as T[];
  let n = 0;
  const ctx: CommandContext = {
    projectDir: dir,
    dataDir: join(dir, 'data'),
    params: { generate: { loras: ['mine:0.5'] }, benchmark: { weight: 0.7 }, ...params },
    sql,
    tables: async () => ({}),
    async run(options): Promise<RunSummary> {
      runs.push(options);
      rendered.push(withPromoted(generateParams.parse(ctx.params.generate), await readPromoted(sql)).loras);
      if (options.targets?.includes('score')) {
        await sql("CREATE OR REPLACE TABLE scores AS SELECT * FROM (VALUES ('Hair', 'red', true), ('Hair', 'red', false), ('Eyes', 'blue', false), ('Eyes', 'blue', true), ('Eyes', 'green', false)) t(axis, value, matched)");
        return { ok: true, exitCode: 0, durationMs: 0, stages: [] };
      }
      const step = script[n++]!;
      if ('crash' in step) throw new Error(step.crash);
      if ('fail' in step) return { ok: false, exitCode: step.fail, durationMs: 0, stages: [{ name: 'train', status: 'failed' }] };
      const name = `sdloop-r${n}`;
      mkdirSync(join(dir, 'data', 'objects'), { recursive: true });
      const saved = [name, ...(step.pick ? [`${name}-${String(step.pick.epoch).padStart(6, '0')}`] : [])].map((file) => {
        const path = join(dir, 'data', 'objects', `${file}.safetensors`);
        writeFileSync(path, `lora ${file}`);
        return `SELECT ${sqlLiteral(file)} AS name, 'h-${file}' AS hash, ${sqlLiteral(path)} AS path`;
      });
      await sql(`CREATE OR REPLACE TABLE lora_info AS ${saved.join(' UNION ALL ')}`);
      const chosen = step.pick ? `${name}-${String(step.pick.epoch).padStart(6, '0')}` : name;
      await sql(`CREATE OR REPLACE TABLE benchmark_summary AS SELECT ${sqlLiteral(chosen)} AS lora, ${step.pick?.weight ?? 0.7} AS weight, ${step.before} AS baseline_adherence, ${step.after} AS candidate_adherence, ${sqlLiteral(step.verdict)} AS verdict, 'why ${n}' AS reason`);
      return { ok: true, exitCode: 0, durationMs: 0, stages: [] };
    },
    stdout: (t) => out.push(t),
    stderr: (t) => out.push(t),
  };
  const fake = { ctx, runs, rendered, out, close: () => connection.closeSync() };
  opened.push(fake);
  return fake;
}

const options = { rounds: 3, untilNoGain: false, targeted: false };

describe('loop arguments', () => {
  it('defaults to one round, twenty with --until-no-gain', () => {
    expect(loopOptions({})).toEqual({ rounds: 1, untilNoGain: false, targeted: false, perTheme: false, schedule: null });
    expect(loopOptions({ untilNoGain: true, targeted: true })).toMatchObject({ rounds: 20, untilNoGain: true, targeted: true });
    expect(loopOptions({ rounds: 3, schedule: '0 2 * * *' })).toMatchObject({ rounds: 3, schedule: '0 2 * * *' });
  });

  it('rejects bad input before a round starts', async () => {
    const f = await fakeContext([]);
    await expect(invokeCommand(loop, ['--rounds', '0'], f.ctx)).rejects.toThrow(InputError);
    await expect(invokeCommand(loop, ['--rounds', 'x'], f.ctx)).rejects.toThrow(/option '--rounds <n>' argument 'x' is invalid/);
    await expect(invokeCommand(loop, ['--round', '2'], f.ctx)).rejects.toThrow(/unknown option '--round'\n\(Did you mean --rounds\?\)/);
    expect(f.runs).toEqual([]);
  });
});

describe('loop rounds', () => {
  it('records each round, promotes winners and generates with them from the next round on', async () => {
    const f = await fakeContext([{ verdict: 'promote', before: 0.5, after: 0.6 }, { verdict: 'reject', before: 0.6, after: 0.61 }, { verdict: 'promote', before: 0.6, after: 0.7 }]);
    expect(await runRounds(f.ctx, options)).toBe(0);
    // No override: generate reads the promoted state, as a plain `pipeline run` does.
    expect(f.runs.map((r) => r.set)).toEqual([{}, {}, {}]);
    expect(f.rendered).toEqual([['mine:0.5'], ['mine:0.5', 'sdloop-r1:0.7'], ['mine:0.5', 'sdloop-r1:0.7']]);
    const rounds = await loopRounds(f.ctx.sql);
    expect(rounds.map((r) => [r.round, r.lora, r.verdict, r.adherence_before, r.adherence_after, r.promoted, r.reason])).toEqual([
      [1, 'sdloop-r1', 'promote', 0.5, 0.6, ['sdloop-r1'], 'why 1'],
      [2, 'sdloop-r2', 'reject', 0.6, 0.61, ['sdloop-r1'], 'why 2'],
      [3, 'sdloop-r3', 'promote', 0.6, 0.7, ['sdloop-r1', 'sdloop-r3'], 'why 3'],
    ]);
    expect(rounds.every((r) => r.finished_at && r.finished_at >= r.started_at)).toBe(true);
    const promoted = await promotedLoras(f.ctx.sql);
    expect(promoted.map((p) => [p.name, p.round, p.weight])).toEqual([['sdloop-r1', 1, 0.7], ['sdloop-r3', 3, 0.7]]);
    expect(existsSync(join(f.ctx.dataDir, 'models', 'lora', 'sdloop-r3.safetensors'))).toBe(true);
    expect(existsSync(join(f.ctx.dataDir, 'models', 'lora', 'sdloop-r2.safetensors'))).toBe(false);
  });

  it('promotes the file and weight the benchmark chose, an earlier epoch at its weight', async () => {
    const f = await fakeContext([{ verdict: 'promote', before: 0.5, after: 0.6, pick: { epoch: 2, weight: 0.4 } }]);
    expect(await runRounds(f.ctx, { ...options, rounds: 1 })).toBe(0);
    const promoted = await promotedLoras(f.ctx.sql);
    expect(promoted.map((p) => [p.name, p.hash, p.weight])).toEqual([['sdloop-r1-000002', 'h-sdloop-r1-000002', 0.4]]);
    expect(readFileSync(join(f.ctx.dataDir, 'models', 'lora', 'sdloop-r1-000002.safetensors'), 'utf8')).toBe('lora sdloop-r1-000002');
    expect((await loopRounds(f.ctx.sql))[0]!.lora).toBe('sdloop-r1-000002');
  });

  it('does not promote past loop.max_stack, and says how to make room', async () => {
    const f = await fakeContext([{ verdict: 'promote', before: 0.5, after: 0.6 }, { verdict: 'promote', before: 0.6, after: 0.7 }], { loop: { max_stack: 1 } });
    expect(await runRounds(f.ctx, { ...options, rounds: 2 })).toBe(0);
    const rounds = await loopRounds(f.ctx.sql);
    expect(rounds.map((r) => [r.verdict, r.promoted])).toEqual([['promote', ['sdloop-r1']], ['reject', ['sdloop-r1']]]);
    expect(rounds[1]!.reason).toBe('why 2; but the stack already holds 1 LoRA(s) (loop.max_stack 1): drop one with `pipeline promoted --drop NAME` or raise loop.max_stack');
  });

  it('stops at the first rejection with --until-no-gain', async () => {
    const f = await fakeContext([{ verdict: 'promote', before: 0.5, after: 0.6 }, { verdict: 'reject', before: 0.6, after: 0.6 }, { verdict: 'promote', before: 0.6, after: 0.7 }]);
    expect(await runRounds(f.ctx, { ...options, rounds: 20, untilNoGain: true })).toBe(0);
    expect(f.runs).toHaveLength(2);
    expect(f.out.at(-1)).toBe('stopping: round 2 brought no gain\n');
  });

  it('--json prints the rounds in one envelope; the rounds\' own lines go to stderr', async () => {
    const f = await fakeContext([{ verdict: 'promote', before: 0.5, after: 0.6 }, { verdict: 'reject', before: 0.6, after: 0.6 }]);
    const json: string[] = [];
    expect(await invokeCommand(loop, ['--rounds', '2', '--json'], { ...f.ctx, stdout: (t) => json.push(t) })).toBe(0);
    const parsed = JSON.parse(json.join('')) as { command: string; ok: boolean; exit_code: number; rounds: { round: number; lora: string; verdict: string }[] };
    expect(parsed).toMatchObject({ command: 'loop', ok: true, exit_code: 0 });
    expect(parsed.rounds.map((r) => [r.round, r.lora, r.verdict])).toEqual([[1, 'sdloop-r1', 'promote'], [2, 'sdloop-r2', 'reject']]);
    expect(f.out.join('')).toMatch(/^round 1: starting/m);
  });

  it('a round whose run only had items fail is judged; one whose stage failed is not', async () => {
    const f = await fakeContext([{ verdict: 'promote', before: 0.5, after: 0.6 }]);
    const run = f.ctx.run;
    const itemsFailed = { ...f.ctx, run: async (o: RunOptions) => ({ ...(await run(o)), ok: false, exitCode: 1, stages: [{ name: 'generate', status: 'ran' as const, items: { done: 5, failed: 1, reused: 0 } }] }) };
    expect(await runRounds(itemsFailed, { ...options, rounds: 1 })).toBe(0);
    expect((await loopRounds(f.ctx.sql))[0]).toMatchObject({ verdict: 'promote' });
  });

  it('records a failed round with its exit code and stops', async () => {
    const f = await fakeContext([{ fail: 1 }, { verdict: 'promote', before: 0.5, after: 0.6 }]);
    expect(await runRounds(f.ctx, options)).toBe(1);
    const [round] = await loopRounds(f.ctx.sql);
    expect(round).toMatchObject({ round: 1, verdict: 'failed', reason: 'pipeline run exited 1; failed: train', promoted: [] });
    expect(f.runs).toHaveLength(1);
  });

  it('resumes a round that was interrupted or killed under the same number', async () => {
    const f = await fakeContext([{ crash: 'killed' }, { verdict: 'promote', before: 0.5, after: 0.6 }, { verdict: 'reject', before: 0.6, after: 0.6 }]);
    await expect(runRounds(f.ctx, options)).rejects.toThrow('killed');
    const [running] = await loopRounds(f.ctx.sql);
    expect(running).toMatchObject({ round: 1, verdict: 'running', finished_at: null });
    expect(await runRounds(f.ctx, { ...options, rounds: 2 })).toBe(0);
    const rounds = await loopRounds(f.ctx.sql);
    expect(rounds.map((r) => [r.round, r.verdict])).toEqual([[1, 'promote'], [2, 'reject']]);
    expect(rounds[0]!.started_at).toBe(running!.started_at);
    expect(f.out.join('')).toContain(`round 1: resuming the round started ${running!.started_at}`);
  });

  it('targets the value with the lowest Wilson upper bound with a focused micro-LoRA round, running up to score first when there are no scores', async () => {
    const f = await fakeContext([{ verdict: 'promote', before: 0.5, after: 0.6 }], { train: { name_prefix: 'night' }, loop: { min_images: 1, focused_images: 12, keep_fraction: 0.5 } });
    expect(await runRounds(f.ctx, { ...options, rounds: 1, targeted: true })).toBe(0);
    expect(f.runs[0]!.targets).toEqual(['score']);
    // Eyes=green 0 of 1: upper bound 0.793; Hair=red and Eyes=blue 1 of 2: 0.906.
    expect(f.runs[1]!.set).toEqual({
      'resolve.fixed': 'Eyes:green', 'resolve.count': 12, 'select.target': { axis: 'Eyes', value: 'green' }, 'select.top_fraction': 0.5,
      'train.name_prefix': 'night-eyes-green', 'benchmark.focus': { axis: 'Eyes', value: 'green' },
    });
    const [round] = await loopRounds(f.ctx.sql);
    expect(round!.target).toBe('Eyes=green');
    expect(f.out[0]).toContain('targeting Eyes=green (matched 0.0%, Wilson upper bound 79.3%)');
    // What `pipeline status` will show next (resolve's params changed) is said, and why.
    expect(f.out.at(-1)).toBe('round 1 ran with the targeted settings (resolve.fixed, resolve.count, select.target, select.top_fraction, train.name_prefix, benchmark.focus); `pipeline status` shows them as changed params until a plain `pipeline run` returns to pipeline.yaml\'s plan\n');
  });

  it('does not target a value with too few images yet', async () => {
    const f = await fakeContext([{ verdict: 'promote', before: 0.5, after: 0.6 }]);
    await expect(runRounds(f.ctx, { ...options, rounds: 1, targeted: true })).rejects.toThrow(/no value of benchmark.axes has 8 scored images yet \(loop.min_images\)/);
  });
});

describe('loop on a schedule', () => {
  it('rejects a bad cron pattern as bad input', async () => {
    const f = await fakeContext([]);
    await expect(runOnSchedule(f.ctx, 'every night', options, new AbortController().signal)).rejects.toThrow(InputError);
  });

  it('runs rounds when the schedule fires and stops when told', async () => {
    const f = await fakeContext([{ verdict: 'promote', before: 0.5, after: 0.6 }, { verdict: 'promote', before: 0.6, after: 0.7 }]);
    const stop = new AbortController();
    const done = runOnSchedule(f.ctx, '* * * * * *', { ...options, rounds: 1 }, stop.signal);
    while (f.runs.length === 0) await new Promise((r) => setTimeout(r, 50));
    stop.abort();
    expect(await done).toBe(0);
    expect((await loopRounds(f.ctx.sql))[0]).toMatchObject({ round: 1, verdict: 'promote' });
    expect(f.out[0]).toMatch(/^loop scheduled "\* \* \* \* \* \*"; first round at /);
  });

  it('is exported as the `loop` command', () => {
    expect(loop.name).toBe('loop');
  });
});

describe('per-theme loop rounds', () => {
  it('runs a round per theme with its select, name and benchmark, and promotes each LoRA for its theme alone', async () => {
    const f = await fakeContext([{ verdict: 'promote', before: 0.5, after: 0.6 }, { verdict: 'reject', before: 0.5, after: 0.5 }]);
    await f.ctx.sql("CREATE TABLE prompts AS SELECT * FROM (VALUES ('p1', 'fantasy'), ('p2', NULL), ('p3', 'cyberpunk'), ('p4', 'fantasy')) t(prompt_id, theme)");
    expect(await invokeCommand(loop, ['--per-theme'], f.ctx)).toBe(0);
    expect(f.runs.map((r) => r.set)).toEqual([
      { 'select.theme': 'cyberpunk', 'train.name_prefix': 'sdloop-theme-cyberpunk', 'benchmark.theme': 'cyberpunk' },
      { 'select.theme': 'fantasy', 'train.name_prefix': 'sdloop-theme-fantasy', 'benchmark.theme': 'fantasy' },
    ]);
    const rounds = await loopRounds(f.ctx.sql);
    expect(rounds.map((r) => [r.round, r.theme, r.verdict])).toEqual([[1, 'cyberpunk', 'promote'], [2, 'fantasy', 'reject']]);
    expect((await promotedLoras(f.ctx.sql)).map((p) => [p.name, p.theme])).toEqual([['sdloop-r1', 'cyberpunk']]);
    // The theme's LoRA is not in every prompt: generate.loras stays the user's.
    expect(f.rendered).toEqual([['mine:0.5'], ['mine:0.5']]);
    expect(f.out.join('')).toContain('round 2: starting for theme fantasy, with 1 promoted LoRA(s)');
  });

  it('resumes a killed theme round first and does not run that theme twice in the pass', async () => {
    const f = await fakeContext([{ verdict: 'reject', before: 0.5, after: 0.5 }, { verdict: 'reject', before: 0.5, after: 0.5 }]);
    await f.ctx.sql("CREATE TABLE prompts AS SELECT * FROM (VALUES ('p1', 'fantasy'), ('p3', 'cyberpunk')) t(prompt_id, theme)");
    await ensureLoopTables(f.ctx.sql);
    await openRound(f.ctx.sql, null, () => new Date('2026-12-01T00:00:00Z'), 'fantasy');
    expect(await runRounds(f.ctx, { ...options, rounds: 1, perTheme: true })).toBe(0);
    expect(f.runs.map((r) => r.set?.['select.theme'])).toEqual(['fantasy', 'cyberpunk']);
    expect((await loopRounds(f.ctx.sql)).map((r) => [r.round, r.theme])).toEqual([[1, 'fantasy'], [2, 'cyberpunk']]);
  });

  it('refuses a per-theme loop with merge, with --targeted, or without themed prompts', async () => {
    const merge = await fakeContext([], { loop: { per_theme: true, promote: 'merge' } });
    await expect(runRounds(merge.ctx, options)).rejects.toThrow('expected loop.promote stack with loop.per_theme');
    const both = await fakeContext([]);
    await expect(invokeCommand(loop, ['--per-theme', '--targeted'], both.ctx)).rejects.toThrow('expected either --targeted or a per-theme loop');
    const none = await fakeContext([]);
    await none.ctx.sql("CREATE TABLE prompts AS SELECT * FROM (VALUES ('p1', NULL)) t(prompt_id, theme)");
    await expect(invokeCommand(loop, ['--per-theme'], none.ctx)).rejects.toThrow(/expected prompts with a theme for a per-theme loop: set resolve.theme/);
    expect([...merge.runs, ...both.runs, ...none.runs]).toEqual([]);
  });
});
