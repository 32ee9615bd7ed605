// What every command prints with --json: one object on stdout, the same envelope for
// all of them (README "JSON output"), keys in snake_case:
//   {"command": "status", "ok": true, "exit_code": 0, ...what the command answers}
// A command that fails on bad input still prints it, with "errors".
import type { InputError } from './errors.js';
import type { RunSummary } from './command.js';
import type { StageStatus } from './runner.js';

export type JsonPayload = Record<string, unknown>;

function envelopeText(command: string, exitCode: number, payload: JsonPayload, indent?: number): string {
  const value = { command, ok: exitCode === 0, exit_code: exitCode, ...payload };
  // DuckDB hands back BIGINTs as bigint, which JSON has no form for.
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), indent) + '\n';
}

/** Print the envelope (indented: people read it too) and hand back the exit code, so a command can `return` it. */
export function writeJsonEnvelope(command: string, exitCode: number, payload: JsonPayload, write: (text: string) => void = (t) => process.stdout.write(t)): number {
  write(envelopeText(command, exitCode, payload, 2));
  return exitCode;
}

/**
 * The envelope on one line, for a command that keeps running after it (serve): a script
 * reads that line as soon as it comes (`read -r line`) without waiting for the end.
 */
export function writeJsonEnvelopeLine(command: string, exitCode: number, payload: JsonPayload, write: (text: string) => void = (t) => process.stdout.write(t)): void {
  write(envelopeText(command, exitCode, payload));
}

/** A run summary as `run --json` prints it and project commands (loop) embed it. */
export function runSummaryJson(summary: RunSummary): JsonPayload {
  return {
    duration_s: Math.round(summary.durationMs / 10) / 100,
    stages: summary.stages.map((s) => ({
      name: s.name,
      status: s.status,
      ...(s.items ? { items: s.items } : {}),
      ...(s.failures ? { failures: s.failures } : {}),
      ...(s.error ? { error: s.error } : {}),
    })),
  };
}

/** One stage of `status --json` (and of `run --dry-run --json`) when no run is going. */
export function stageStatusJson(status: StageStatus): JsonPayload {
  return { name: status.name, state: status.upToDate ? 'up_to_date' : 'stale', up_to_date: status.upToDate, reasons: status.reasons };
}

/** Bad input as the envelope's `errors`: what the text message says, field by field. */
export function inputErrorsJson(errors: InputError[]): JsonPayload {
  return {
    errors: errors.map((e) => ({ message: e.message, ...e.where })),
  };
}
