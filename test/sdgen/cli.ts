// The real CLI as a child process run from any folder (`cwd`), since sdgen users type
// their commands inside their prompt folders; and throwaway folders of sdgen files.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { finished, repoRoot, type CliResult } from '../engine/helpers.js';

export function pipelineIn(cwd: string, args: string[], input?: string): Promise<CliResult> {
  const child = spawn(process.execPath, [join(repoRoot, 'bin', 'pipeline.js'), ...args], {
    cwd, env: { ...process.env, SDLOOP_DEBUG: '' }, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  if (input !== undefined) child.stdin!.end(input);
  return finished(child);
}

/** `files` (relative path -> text or bytes) written under `dir` (a new temp folder by default). */
export function writeFiles(files: Record<string, string | Buffer>, dir = mkdtempSync(join(tmpdir(), 'sdloop-sdgen-'))): string {
  for (const [path, data] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), data);
  }
  return dir;
}

/** The smallest pipeline.yaml that has the project commands (plan, validate, themes...). */
export const projectYaml = 'commands: [commands]\nstages:\n  resolve:\n    uses: resolve\n    params: [resolve]\n';

/**
 * Run the CLI on a pseudo-terminal (script(1)) and type `keys` each time the output
 * since the previous step matches `when`, as a person at the prompt would.
 */
export function onTerminal(cwd: string, args: string[], steps: { when: RegExp; keys: string }[]): Promise<CliResult> {
  const command = [process.execPath, join(repoRoot, 'bin', 'pipeline.js'), ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  const child = spawn('script', ['-qfec', command, '/dev/null'], { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  let pending = '';
  let step = 0;
  child.stdout!.on('data', (d: Buffer) => {
    pending += d.toString();
    if (step < steps.length && steps[step]!.when.test(pending)) {
      pending = '';
      child.stdin!.write(steps[step++]!.keys);
    }
  });
  return finished(child);
}
