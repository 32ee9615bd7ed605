// A stage module that names, from its params, a folder outside the project to watch
// (the deps hook ingest uses): fingerprinted like a declared dep, so a no-op skips it,
// a new file reruns it, and a folder that does not exist yet counts as empty.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stageOf, TestProject } from './helpers.js';

const watcher = `
import { z } from 'zod';
import { readdirSync } from 'node:fs';
export default {
  kind: 'stage', description: 'list a folder its params name',
  params: z.object({ watch: z.object({ dir: z.string() }) }),
  outputs: { names: { kind: 'table', schema: z.object({ name: z.string() }) } },
  async deps(params) { return [params.watch.dir]; },
  async run(ctx) {
    let names = [];
    try { names = readdirSync(ctx.params.watch.dir).sort(); } catch {}
    return { names: names.map((name) => ({ name })) };
  },
};
`;

describe('module deps', () => {
  it('skips a no-op, reruns on a new file in the watched folder, and treats a missing folder as empty', async () => {
    const outside = join(mkdtempSync(join(tmpdir(), 'sdloop-watched-')), 'results');
    const project = TestProject.create();
    project.write('watch.mjs', watcher);
    project.write('pipeline.yaml', `params:\n  watch: {dir: ${JSON.stringify(outside)}}\nstages:\n  watch: {uses: ./watch.mjs, params: [watch]}\n`);

    expect(stageOf(await project.run(), 'watch').status).toBe('ran');
    expect(await project.sql('select * from names')).toEqual([]);

    mkdirSync(outside);
    writeFileSync(join(outside, 'a.png'), 'a');
    expect(stageOf(await project.run(), 'watch').status).toBe('ran');
    expect(stageOf(await project.run(), 'watch').status).toBe('skipped');

    writeFileSync(join(outside, 'b.png'), 'b');
    const status = await project.status();
    expect(status.watch!.reasons.join('\n')).toMatch(/deps: 1 file added/);
    expect(stageOf(await project.run(), 'watch').status).toBe('ran');
    expect(await project.sql('select name from names order by 1')).toEqual([{ name: 'a.png' }, { name: 'b.png' }]);
    project.dispose();
  }, 60_000);
});
