// The example project as tests see it: a frozen copy of the shipped pipeline.yaml and
// data/ inputs under test/fixtures/example, so a user editing the demo files under data/
// never breaks `npm test`, and tests copy it to a temporary folder before running in it.
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
