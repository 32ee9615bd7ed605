// The loop's bookkeeping in the state database: `loop_rounds` (one row per round, written
// as `running` when it starts so a killed round resumes under the same number) and
// `promoted_loras` (what every later round generates with). A round's end and its
// promotion are one transaction, so a kill never leaves a promotion without its round.
// The theme columns came with loop.per_theme: older states gain them, null (every theme).
import type { Row, Sql } from '../src/stage.js';
import type { z } from 'zod';
import type { loopRoundRow, MergedCheckpointRow, promotedLoraRow } from '../schemas/tables.js';

export type LoopRound = z.infer<typeof loopRoundRow>;
export type PromotedLora = z.infer<typeof promotedLoraRow>;

const schema = `
CREATE TABLE IF NOT EXISTS loop_rounds (
  round BIGINT PRIMARY KEY, started_at VARCHAR NOT NULL, finished_at VARCHAR, target VARCHAR,
  lora VARCHAR, adherence_before DOUBLE, adherence_after DOUBLE, verdict VARCHAR NOT NULL,
  reason VARCHAR NOT NULL, promoted VARCHAR[] NOT NULL);
CREATE TABLE IF NOT EXISTS promoted_loras (
  name VARCHAR PRIMARY KEY, hash VARCHAR NOT NULL, path VARCHAR NOT NULL, weight DOUBLE NOT NULL,
  round BIGINT NOT NULL, promoted_at VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS merged_checkpoints (
  name VARCHAR PRIMARY KEY, path VARCHAR NOT NULL, hash VARCHAR NOT NULL, base VARCHAR NOT NULL,
  lora VARCHAR NOT NULL, ratio DOUBLE NOT NULL, round BIGINT NOT NULL, merged_at VARCHAR NOT NULL);
ALTER TABLE loop_rounds ADD COLUMN IF NOT EXISTS theme VARCHAR;
ALTER TABLE promoted_loras ADD COLUMN IF NOT EXISTS theme VARCHAR;`;

/** A SQL literal; used where one statement string must carry a whole transaction. */
export function sqlLiteral(value: string | number | null | string[]): string {
  if (value === null) return 'NULL';
  if (Array.isArray(value)) return `[${value.map(sqlLiteral).join(', ')}]::VARCHAR[]`;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`cannot store ${value} in SQL`);
    return String(value);
  }
  return `'${value.replace(/'/g, "''")}'`;
}

export async function ensureLoopTables(sql: Sql): Promise<void> {
  await sql(schema);
}

/** DuckDB returns BIGINT as a string in JSON rows. */
function toRound(row: Row): LoopRound {
  return { ...(row as unknown as LoopRound), round: Number(row.round), theme: (row.theme as string | null) ?? null };
}

export async function loopRounds(sql: Sql): Promise<LoopRound[]> {
  return (await sql('SELECT * FROM loop_rounds ORDER BY round')).map(toRound);
}

export async function promotedLoras(sql: Sql): Promise<PromotedLora[]> {
  const rows = await sql('SELECT * FROM promoted_loras ORDER BY round, name');
  return rows.map((r) => ({ ...(r as unknown as PromotedLora), round: Number(r.round), weight: Number(r.weight), theme: (r.theme as string | null) ?? null }));
}

/** The round a killed run left `running`, or a new one after the last. */
export async function openRound(sql: Sql, target: string | null, now: () => Date, theme: string | null = null): Promise<{ round: LoopRound; resumed: boolean }> {
  const rounds = await loopRounds(sql);
  const unfinished = rounds.find((r) => r.verdict === 'running');
  if (unfinished) return { round: unfinished, resumed: true };
  const promoted = (await promotedLoras(sql)).map((p) => p.name);
  const round: LoopRound = {
    round: (rounds.at(-1)?.round ?? 0) + 1,
    started_at: now().toISOString(),
    finished_at: null,
    target,
    theme,
    lora: null,
    adherence_before: null,
    adherence_after: null,
    verdict: 'running',
    reason: '',
    promoted,
  };
  await sql(
    `INSERT INTO loop_rounds (round, started_at, finished_at, target, lora, adherence_before, adherence_after, verdict, reason, promoted, theme) VALUES (${[round.round, round.started_at, null, target, null, null, null, 'running', '', promoted, theme].map(sqlLiteral).join(', ')})`,
  );
  return { round, resumed: false };
}

export async function mergedCheckpoints(sql: Sql): Promise<MergedCheckpointRow[]> {
  const rows = await sql('SELECT * FROM merged_checkpoints ORDER BY round');
  return rows.map((r) => ({ ...(r as unknown as MergedCheckpointRow), round: Number(r.round), ratio: Number(r.ratio) }));
}

/**
 * Close the round and, when it promoted, record the LoRA (or the checkpoint it was merged
 * into) and the promoted LoRAs' re-tuned weights: all or nothing.
 */
export async function finishRound(sql: Sql, round: LoopRound, promotion: PromotedLora | null, merged: MergedCheckpointRow | null = null, retuned: PromotedLora[] = []): Promise<void> {
  const statements = ['BEGIN TRANSACTION;'];
  for (const r of retuned) statements.push(`UPDATE promoted_loras SET weight = ${sqlLiteral(r.weight)} WHERE name = ${sqlLiteral(r.name)};`);
  if (merged) {
    const m = merged;
    statements.push(`INSERT INTO merged_checkpoints VALUES (${[m.name, m.path, m.hash, m.base, m.lora, m.ratio, m.round, m.merged_at].map(sqlLiteral).join(', ')});`);
  }
  if (promotion) {
    const p = promotion;
    statements.push(
      `INSERT OR REPLACE INTO promoted_loras (name, hash, path, weight, round, promoted_at, theme) VALUES (${[p.name, p.hash, p.path, p.weight, p.round, p.promoted_at, p.theme].map(sqlLiteral).join(', ')});`,
    );
  }
  const set = {
    finished_at: round.finished_at,
    target: round.target,
    lora: round.lora,
    adherence_before: round.adherence_before,
    adherence_after: round.adherence_after,
    verdict: round.verdict,
    reason: round.reason,
    promoted: round.promoted,
  };
  const assignments = Object.entries(set).map(([column, value]) => `${column} = ${sqlLiteral(value)}`).join(', ');
  statements.push(`UPDATE loop_rounds SET ${assignments} WHERE round = ${sqlLiteral(round.round)};`, 'COMMIT;');
  try {
    await sql(statements.join('\n'));
  } catch (error) {
    await sql('ROLLBACK').catch(() => {});
    throw error;
  }
}
