// `npm run bench -- <area>` runs bench/<area>.mjs; with no area it lists the areas.
// Each area benchmark is a plain script importing the compiled code from ../dist.
// Helpers the area scripts share live in bench/lib/.
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const areas = readdirSync(here)
  .filter((f) => f.endsWith('.mjs') && f !== 'run.mjs')
  .map((f) => f.slice(0, -'.mjs'.length))
  .sort();

const [area, ...args] = process.argv.slice(2);
if (!area) {
  process.stdout.write(`Usage: npm run bench -- <area> [args]\nAreas: ${areas.join(', ')}\n`);
  process.exit(0);
}
if (!areas.includes(area)) {
  process.stderr.write(`error: no benchmark "${area}" (areas: ${areas.join(', ')})\n`);
  process.exit(2);
}
const result = spawnSync(process.execPath, [join(here, `${area}.mjs`), ...args], { stdio: 'inherit' });
process.exit(result.status ?? 1);
