import { afterEach, describe, expect, it } from 'vitest';
import type { DuckDBConnection } from '@duckdb/node-api';
import { invokeCommand, type CommandContext } from '../../src/command.js';
import { ensureLoopTables, finishRound, openRound } from '../../commands/loop-state.js';
import promoted from '../../commands/promoted.js';
import { generateParams, lorasForRows } from '../../stages/generate/backend.js';
import { promotedResource, readPromoted, withPromoted } from '../../stages/generate/promoted.js';

const closers: (() => void)[] = [];
afterEach(() => closers.splice(0).forEach((c) => c()));

async function stateContext(): Promise<{ ctx: CommandContext; out: string[] }> {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const db = await DuckDBInstance.create(':memory:');
  const connection: DuckDBConnection = await db.connect();
  closers.push(() => connection.closeSync());
  const out: string[] = [];
  const sql = async <T,>(query: string) => (await connection.runAndReadAll(query)).getRowObjectsJson() as T[];
  const ctx: CommandContext = {
    projectDir: '/p', dataDir: '/p/data', params: {}, sql, tables: async () => ({}),
    run: async () => { throw new Error('promoted runs nothing'); },
    stdout: (t) => out.push(t), stderr: (t) => out.push(t),
  };
  return { ctx, out };
}

async function promote(ctx: CommandContext, name: string, weight: number, theme: string | null = null) {
  const { round } = await openRound(ctx.sql, null, () => new Date('2026-12-01T00:00:00Z'), theme);
  const path = `/p/data/models/lora/${name}.safetensors`;
  await finishRound(ctx.sql, { ...round, finished_at: '2026-12-01T01:00:00Z', verdict: 'promote', lora: name, promoted: [name] },
    { name, hash: `${name}-hash-0123456789`, path, weight, round: round.round, promoted_at: '2026-12-01T01:00:00Z', theme });
}

describe('pipeline promoted', () => {
  it('says there are none before the first promotion, and generate adds nothing', async () => {
    const { ctx, out } = await stateContext();
    expect(await invokeCommand(promoted, [], ctx)).toBe(0);
    expect(out.join('')).toMatch(/^no promoted LoRAs/);
    const g = generateParams.parse({ loras: ['mine:0.5'] });
    expect(withPromoted(g, await readPromoted(ctx.sql))).toBe(g);
  });

  it('lists the promoted LoRAs that generate then renders with, and --drop undoes one', async () => {
    const { ctx, out } = await stateContext();
    await ensureLoopTables(ctx.sql);
    await promote(ctx, 'sdloop-a', 0.8);
    await promote(ctx, 'sdloop-b', 0.6);
    expect(await invokeCommand(promoted, ['--json'], ctx)).toBe(0);
    expect(JSON.parse(out.join('')).promoted.map((p: { name: string; round: number }) => [p.name, p.round])).toEqual([['sdloop-a', 1], ['sdloop-b', 2]]);

    // A spec the user wrote for a promoted name gives way to the promoted weight.
    const g = generateParams.parse({ loras: ['mine:0.5', 'sdloop-a:0.3'], lora_dirs: ['data/models/lora'] });
    const used = withPromoted(g, await readPromoted(ctx.sql));
    expect(used.loras).toEqual(['mine:0.5', 'sdloop-a:0.8', 'sdloop-b:0.6']);
    expect(used.lora_dirs).toEqual(['data/models/lora', '/p/data/models/lora']);

    out.length = 0;
    expect(await invokeCommand(promoted, ['--drop', 'sdloop-a'], ctx)).toBe(0);
    expect(out.join('')).toBe('dropped sdloop-a: the next run renders without it (1 promoted LoRA(s) left)\n');
    expect(withPromoted(g, await readPromoted(ctx.sql)).loras).toEqual(['mine:0.5', 'sdloop-a:0.3', 'sdloop-b:0.6']);
    await expect(invokeCommand(promoted, ['--drop', 'sdloop-a'], ctx)).rejects.toThrow('sdloop-a is not promoted (promoted: sdloop-b)');
  });

  it('puts a LoRA promoted for a theme into that theme\'s prompts alone, and leaves it out of what every image shares', async () => {
    const { ctx, out } = await stateContext();
    await ensureLoopTables(ctx.sql);
    await promote(ctx, 'sdloop-all', 0.9);
    await promote(ctx, 'sdloop-theme-cyberpunk', 0.7, 'cyberpunk');
    const g = generateParams.parse({ loras: ['mine:0.5'], theme_loras: { cyberpunk: ['neon:0.4', 'sdloop-theme-cyberpunk:0.2'], fantasy: ['elf:1'] } });
    const used = withPromoted(g, await readPromoted(ctx.sql));
    expect(used.loras).toEqual(['mine:0.5', 'sdloop-all:0.9']);
    expect(used.theme_loras).toEqual({ cyberpunk: ['neon:0.4', 'sdloop-theme-cyberpunk:0.7'], fantasy: ['elf:1'] });
    const forRow = lorasForRows(used);
    expect(forRow({ theme: 'cyberpunk' }).map((l) => l.name)).toEqual(['mine', 'sdloop-all', 'neon', 'sdloop-theme-cyberpunk']);
    expect(forRow({ theme: 'fantasy' }).map((l) => l.name)).toEqual(['mine', 'sdloop-all', 'elf']);
    expect(forRow({ theme: null }).map((l) => l.name)).toEqual(['mine', 'sdloop-all']);
    // generate's shared resources name only the LoRA every prompt carries; benchmark's name both.
    const all = await readPromoted(ctx.sql);
    expect(promotedResource(all, true)).toEqual({ promoted_loras: 'sdloop-all:0.9:sdloop-all-hash-0123456789' });
    expect(promotedResource(all).promoted_loras).toContain('sdloop-theme-cyberpunk:0.7:sdloop-theme-cyberpunk-hash-0123456789:cyberpunk');
    expect(await invokeCommand(promoted, [], ctx)).toBe(0);
    expect(out.join('').split('\n').filter(Boolean).map((l) => l.split('\t').at(-1))).toEqual(['every theme', 'theme cyberpunk']);
  });
});
