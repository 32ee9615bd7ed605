// The example project as tests see it: a frozen copy of the shipped pipeline.yaml and
// data/ inputs under test/fixtures/example, so a user editing the demo files under data/
// never breaks `npm test`, and tests copy it to a temporary folder before running in it.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const exampleDir = join(import.meta.dirname, 'fixtures', 'example');

/** A fresh temporary project: the example's pipeline.yaml and its data/ inputs. */
export function copyExampleProject(prefix = 'sdloop-example-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cpSync(exampleDir, dir, { recursive: true });
  return dir;
}

const repo = join(import.meta.dirname, '..');

/** `pipeline -C dir ...args` through the real CLI, waited for. */
export function runPipeline(dir: string, args: string[], timeoutMs = 170_000): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [join(repo, 'bin', 'pipeline.js'), '-C', dir, ...args], { encoding: 'utf8', timeout: timeoutMs });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** The rows of one `pipeline sql` query; its stderr thrown when it fails. */
export function sqlRows<T>(dir: string, query: string): T[] {
  const out = runPipeline(dir, ['sql', query, '--format', 'json']);
  if (out.code !== 0) throw new Error(out.stderr);
  return JSON.parse(out.stdout) as T[];
}
