// gc never deletes what a memo row, a table or the lock names, and an object that is gone
// anyway (deleted by hand) is made again instead of being reported as reused. Through
// the real CLI: every image row must point at a file that exists.
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { IdentityProject, itemsRun } from './identity-project.js';

let project: IdentityProject | undefined;
afterEach(() => project?.dispose());

const generateItems = (summary: { stages: { name: string; items?: unknown }[] }) => summary.stages.find((s) => s.name === 'generate')!.items;

async function missingFiles(p: IdentityProject): Promise<string[]> {
  const rows = await p.sql<{ path: string }>("SELECT path FROM images WHERE status <> 'failed'");
  expect(rows.length).toBeGreaterThan(0);
  return rows.map((r) => r.path).filter((path) => !existsSync(isAbsolute(path) ? path : join(p.dir, path)));
}

async function run(p: IdentityProject) {
  const summary = await p.run();
  expect(summary.code, summary.stderr).toBe(0);
  return summary;
}

describe('gc is safe', () => {
  it('a value added, reverted, collected and added back is served from kept results whose images all exist', async () => {
    project = IdentityProject.create();
    const p = project;
    await run(p);
    const hair = p.read('data/variations/hair.yaml');
    p.append('data/variations/hair.yaml', 'Silver: "silver hair"\n');
    expect(itemsRun(await run(p), 'generate')).toBe(2);
    writeFileSync(p.path('data/variations/hair.yaml'), hair);
    expect(itemsRun(await run(p), 'generate')).toBe(0);

    const gc = await p.pipeline(['gc', '--apply']);
    expect(gc.code, gc.stderr).toBe(0);
    expect(gc.stdout).toMatch(/^gc: (freed|nothing to free)/);
    expect(await missingFiles(p)).toEqual([]);

    p.append('data/variations/hair.yaml', 'Silver: "silver hair"\n');
    const back = await run(p);
    expect(generateItems(back)).toEqual({ done: 0, failed: 0, reused: 8 });
    expect(await missingFiles(p)).toEqual([]);
    expect((await p.sql<{ n: number }>('SELECT count(*)::INTEGER AS n FROM scores WHERE image_id IN (SELECT image_id FROM images)'))[0]!.n).toBeGreaterThan(0);
  });

  it('an object nothing names is deleted with its recorded stat, and only with --apply', async () => {
    project = IdentityProject.create();
    const p = project;
    await run(p);
    const stray = `${'ee'.padEnd(32, '0')}.png`;
    mkdirSync(p.path('data/objects/ee'), { recursive: true });
    writeFileSync(p.path(`data/objects/ee/${stray}`), 'not referenced');
    const kept = await p.pipeline(['sql', '--write', `INSERT INTO object_stats VALUES ('ee/${stray}', 14, '1', 1)`]);
    expect(kept.code, kept.stderr).toBe(0);
    const rows = async () => JSON.parse((await p.pipeline(['sql', '--write', '--format', 'json', 'SELECT path FROM object_stats ORDER BY path'])).stdout) as { path: string }[];
    const before = await rows();
    expect(before.map((r) => r.path)).toContain(`ee/${stray}`);
    expect((await p.pipeline(['gc'])).stdout).toMatch(/would free .*1 object/);
    expect(existsSync(p.path(`data/objects/ee/${stray}`))).toBe(true);
    expect((await p.pipeline(['gc', '--apply'])).code).toBe(0);
    expect(existsSync(p.path(`data/objects/ee/${stray}`))).toBe(false);
    expect(await rows()).toEqual(before.filter((r) => r.path !== `ee/${stray}`));
  });

  it('an object deleted by hand makes its item stale, is rendered again, and score runs on it', async () => {
    project = IdentityProject.create();
    const p = project;
    await run(p);
    const [row] = await p.sql<{ path: string }>("SELECT path FROM images WHERE status = 'ok' ORDER BY path LIMIT 1");
    const file = isAbsolute(row!.path) ? row!.path : join(p.dir, row!.path);
    expect(file).toContain(join('data', 'objects'));
    rmSync(file);

    const status = await p.status();
    expect(status.generate!.up_to_date).toBe(false);
    expect(status.generate!.reasons.join('\n')).toContain('1 memoised items name stored objects that are gone or damaged');
    const again = await run(p);
    expect(generateItems(again)).toEqual({ done: 1, failed: 0, reused: 5 });
    expect(existsSync(file)).toBe(true);
    expect(await missingFiles(p)).toEqual([]);
    expect(Object.values(await p.status()).every((s) => s.up_to_date)).toBe(true);
  });
});
