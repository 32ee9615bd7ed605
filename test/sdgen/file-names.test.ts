// Image file names in the session folders as sdgen users expect them, from a real run:
// `<session>_<idx>_seed-<seed>.png`, or with output.filename_keys the chosen keys.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { copyExampleProject } from '../example-project.js';
import { pipelineIn } from './cli.js';

function sessionFiles(dir: string): Record<string, string[]> {
  const root = join(dir, 'data/sessions');
  return Object.fromEntries(readdirSync(root).map((s) => [s.replace(/^\d{8}_\d{6}-/, ''), readdirSync(join(root, s)).filter((f) => f.endsWith('.png')).sort()]));
}

describe('session file names', () => {
  it('puts the keys of output.filename_keys in the names, the seed otherwise', async () => {
    const dir = copyExampleProject();
    const set = ['--set', 'resolve.prompts=[data/prompts/character.prompt.yaml, data/prompts/pet.prompt.yaml]', '--set', 'resolve.count=2'];
    const result = await pipelineIn(dir, ['run', 'generate', ...set]);
    expect(result.code, result.stderr).toBe(0);
    const plan = JSON.parse((await pipelineIn(dir, ['plan', 'data/prompts/character.prompt.yaml', '--count', '2', '--format', 'json'])).stdout) as { variations: Record<string, { key: string }> }[];
    const keyed = plan.map((r, i) => `character_000${i}_${r.variations.Outfit!.key.toLowerCase()}_${r.variations.HairColor!.key.toLowerCase()}.png`);
    const files = sessionFiles(dir);
    expect(files.character).toEqual(keyed);
    expect(files.pet!.every((f) => /^pet_000[01]_seed-\d+\.png$/.test(f))).toBe(true);
  });
});
