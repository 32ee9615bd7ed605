// A whole demo run through the real CLI leaves nothing in the OS temp folder: ONNX
// Runtime's telemetry (`.ses`, `mat-debug-<pid>.log`) is off, and nothing else writes there.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { copyExampleProject } from '../example-project.js';

const repo = resolve(import.meta.dirname, '../..');
const cli = join(repo, 'bin', 'pipeline.js');
const cleanup: string[] = [];
afterAll(() => {
  for (const dir of cleanup) rmSync(dir, { recursive: true, force: true });
});

function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [cli, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code) => done({ code, stderr }));
  });
}

describe('the OS temp folder after a run', () => {
  it('is as empty as before the whole demo pipeline ran', async () => {
    const project = copyExampleProject('sdloop-litter-');
    symlinkSync(join(repo, 'node_modules'), join(project, 'node_modules'));
    const temp = mkdtempSync(join(tmpdir(), 'sdloop-litter-tmp-'));
    cleanup.push(project, temp);
    // ORT_DISABLE_TELEMETRY is left out of the environment: the run must turn it off itself.
    const { ORT_DISABLE_TELEMETRY: _, ...inherited } = process.env;
    const result = await runCli(['-C', project, 'run'], { ...inherited, TMPDIR: temp, TMP: temp, TEMP: temp });
    expect(result.stderr).not.toMatch(/error/i);
    expect(result.code).toBe(0);
    expect(readdirSync(temp)).toEqual([]);
  }, 300_000);
});
