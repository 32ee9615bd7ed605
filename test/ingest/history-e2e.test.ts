// A user's history through the real CLI beside the demo: one images table of both
// origins, sessions judged, prune and restore, a no-op rescan, a missing path as bad
// input, and every one of the user's files byte- and stat-identical afterwards.
import { readFileSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hashBytes } from '../../src/hash.js';
import { readLockFile } from '../../src/lockfile.js';
import { copyExampleProject, runPipeline, sqlRows } from '../example-project.js';
import { buildHistory } from './fixtures.js';

const pipeline = (dir: string, ...args: string[]) => runPipeline(dir, args);
const sql = sqlRows;

/** Content hash and every stat field a write, move, link or chmod would change (atime aside: reading sets it). */
function fingerprintTree(root: string): Map<string, string> {
  const seen = new Map<string, string>();
  for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    const s = statSync(path);
    const content = entry.isFile() ? hashBytes(readFileSync(path)) : 'dir';
    seen.set(path, [content, s.size, s.mtimeMs, s.ctimeMs, s.ino, s.nlink, s.mode].join(' '));
  }
  return seen;
}

describe('importing a history beside the demo', () => {
  it('scores, judges, prunes and restores it without touching one of the user\'s files', async () => {
    const dir = copyExampleProject('sdloop-ingest-');
    const history = await buildHistory();
    const yaml = readFileSync(join(dir, 'pipeline.yaml'), 'utf8')
      .replace('    paths: []', `    paths: [${JSON.stringify(history.root)}]`)
      .replace('    variations_dirs: [data/variations]', `    variations_dirs: [data/variations, ${JSON.stringify(history.variations)}]`);
    writeFileSync(join(dir, 'pipeline.yaml'), yaml);
    const before = fingerprintTree(join(history.root, '..'));

    const run = pipeline(dir, 'run');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr + run.stdout).toMatch(/00003-1236\.png: skipped, not a complete PNG/);
    const origins = sql<{ origin: string; n: number }>(dir, 'select origin, count(*)::INTEGER as n from images group by 1 order by 1');
    // 16 readable imported files, one a copy of another: 15 images.
    expect(origins).toEqual([{ origin: 'generated', n: expect.any(Number) }, { origin: 'imported', n: 15 }]);
    const importedPrompts = sql<{ n: number }>(dir, "select count(*)::INTEGER as n from prompts where origin = 'imported'");
    expect(importedPrompts[0]!.n).toBe(15);
    const scored = sql<{ n: number }>(dir, "select count(distinct q.image_id)::INTEGER as n from quality q join images i using (image_id) where i.origin = 'imported'");
    expect(scored[0]!.n).toBe(15);

    const sessions = sql<{ session_dir: string; planned: number; present: number; failed: number; verdict: string; annotated: number; flagged: number }>(
      dir, "select session_dir, planned::INTEGER as planned, present::INTEGER as present, failed::INTEGER as failed, verdict, annotated::INTEGER as annotated, flagged::INTEGER as flagged from sessions where origin = 'imported' order by 1");
    const portrait = sessions.find((s) => s.session_dir.endsWith('-portrait'))!;
    expect(portrait).toMatchObject({ planned: 5, present: 3, failed: 2 });
    expect(sessions.find((s) => s.session_dir.endsWith('-labelled'))).toMatchObject({ annotated: 1, flagged: 1, verdict: 'review' });
    const report = pipeline(dir, 'report', 'sessions', '--format', 'json');
    expect((JSON.parse(report.stdout) as { origin: string }[]).filter((r) => r.origin === 'imported')).toHaveLength(sessions.length);
    // Nothing imported with an unknown or burned-in key reaches the dataset.
    const untrainable = new Set(sql<{ image_id: string }>(dir, "select i.image_id from images i join prompts p using (prompt_id) where i.origin = 'imported' and (json_array_length(p.unresolved) > 0 or i.annotated)").map((r) => r.image_id));
    expect(untrainable.size).toBe(4);
    const datasetDir = readLockFile(join(dir, 'pipeline.lock')).stages.dataset!.outs.dataset!.path;
    const trained = readdirSync(join(dir, datasetDir, 'img'), { recursive: true }).map(String).filter((f) => f.endsWith('.png'));
    expect(trained.length).toBeGreaterThan(0);
    expect(trained.filter((f) => untrainable.has(f.split('/').at(-1)!.replace('.png', '')))).toEqual([]);

    const rescan = pipeline(dir, 'run', 'ingest');
    expect(rescan.code).toBe(0);
    expect(rescan.stderr + rescan.stdout).not.toMatch(/ingest: running/);

    const prune = pipeline(dir, 'prune', '--where', "session.verdict = 'review'", '--apply');
    expect(prune.code, prune.stderr).toBe(0);
    expect(prune.stdout).toMatch(/imported: your files stay where they are/);
    expect(pipeline(dir, 'run', 'catalog').code).toBe(0);
    const afterPrune = sql<{ n: number }>(dir, "select count(*)::INTEGER as n from images where origin = 'imported'")[0]!.n;
    expect(afterPrune).toBeLessThan(15);
    const restore = pipeline(dir, 'prune', '--restore');
    expect(restore.code, restore.stderr).toBe(0);
    expect(pipeline(dir, 'run', 'catalog').code).toBe(0);
    expect(sql<{ n: number }>(dir, "select count(*)::INTEGER as n from images where origin = 'imported'")[0]!.n).toBe(15);

    expect(fingerprintTree(join(history.root, '..'))).toEqual(before);

    // The user renames a session: the same images, found at their new path, not scored again.
    renameSync(join(history.root, '20251020_093000-october'), join(history.root, '20251020_093000-october-renamed'));
    const moved = pipeline(dir, 'run', 'score');
    expect(moved.code, moved.stderr).toBe(0);
    expect(moved.stderr + moved.stdout).toMatch(/ingest: done .*: 1 items run, 6 reused/);
    expect(moved.stderr + moved.stdout).toMatch(/score: done .*: 0 items run/);
    expect(sql<{ n: number }>(dir, "select count(*)::INTEGER as n from images where session_dir like '%october-renamed'")[0]!.n).toBe(3);

    const missing = pipeline(dir, 'run', 'ingest', '--set', 'ingest.paths=["/no/such/sd/results"]');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/\/no\/such\/sd\/results/);
  }, 180_000);
});
