// A project moved to another folder keeps its imported history: folders inside it, or
// named relative to it, are stored relative; the user's folders elsewhere absolute. After
// the move nothing is imported or scored again, every path the tables hold still opens,
// and prune still finds the images.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { a1111Png } from './fixtures.js';

const repo = resolve(import.meta.dirname, '..', '..');

function pipeline(dir: string, ...args: string[]) {
  const result = spawnSync(process.execPath, [join(repo, 'bin', 'pipeline.js'), '-C', dir, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: result.status, out: result.stdout + result.stderr, stdout: result.stdout };
}

function sql<T>(dir: string, query: string): T[] {
  const r = pipeline(dir, 'sql', query, '--format', 'json');
  if (r.code !== 0) throw new Error(r.out);
  return JSON.parse(r.stdout) as T[];
}

async function session(dir: string, seed: number): Promise<void> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `00001-${seed}.png`), await a1111Png({ prompt: 'masterpiece, blonde hair', seed, colour: seed }));
}

describe('a moved project', () => {
  it('still finds every imported image and imports and scores nothing again', async () => {
    const base = mkdtempSync(join(tmpdir(), 'sdloop-moved-'));
    const project = join(base, 'project');
    const elsewhere = mkdtempSync(join(tmpdir(), 'sdloop-elsewhere-'));
    await session(join(project, 'imports', 'day1'), 1);
    await session(join(base, 'shared-results', 'day2'), 2);
    await session(join(elsewhere, 'day3'), 3);
    writeFileSync(join(project, 'pipeline.yaml'), [
      'params:', '  ingest:', `    paths: [imports, ../shared-results, ${JSON.stringify(elsewhere)}]`,
      'commands: [commands]',
      'stages:',
      '  ingest: {uses: ingest, params: [ingest]}',
      '  catalog: {uses: catalog, inputs: {imported: ingest.imported, imported_prompts: ingest.imported_prompts}}',
      '  score: {uses: score, inputs: {images: catalog.images, prompts: catalog.prompts}}',
      '  sessions: {uses: sessions, inputs: {images: catalog.images, prompts: catalog.prompts, quality: score.quality, scores: score.scores, imported_sessions: ingest.imported_sessions}}', '',
    ].join('\n'));
    const first = pipeline(project, 'run');
    expect(first.code, first.out).toBe(0);
    const stored = sql<{ session_dir: string }>(project, 'select session_dir from sessions order by 1').map((r) => r.session_dir);
    expect(stored).toEqual([join(elsewhere, 'day3'), '../shared-results/day2', 'imports/day1'].sort());

    const moved = join(base, 'moved');
    renameSync(project, moved);
    const again = pipeline(moved, 'run');
    expect(again.code, again.out).toBe(0);
    expect(again.out).not.toMatch(/(ingest|catalog|score): running/);
    const paths = sql<{ path: string }>(moved, 'select path from images').map((r) => resolve(moved, r.path));
    expect(paths).toHaveLength(3);
    for (const path of paths) expect(existsSync(path), path).toBe(true);
    const listing = pipeline(moved, 'prune', '--where', 'true');
    expect(listing.code, listing.out).toBe(0);
    expect(listing.stdout.match(/\(imported: not moved\)/g)).toHaveLength(3);
  }, 120_000);
});
