// What re-renders and what never does, through the real CLI: operational params, a
// threshold, a new variation value, a higher count, an edit to bookkeeping code and a
// version bump, each counted in items run (`run --json`).
import { afterEach, describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { IdentityProject, itemsRun } from './identity-project.js';
import { startA1111StandIn } from '../standins/a1111-server.js';

let project: IdentityProject | undefined;
afterEach(() => project?.dispose());

async function ranProject(options: { ownBuild?: boolean; generate?: string; set?: string[] } = {}): Promise<IdentityProject> {
  project = IdentityProject.create(options);
  const first = await project.run(options.set ?? []);
  expect(first.code, first.stderr).toBe(0);
  return project;
}

function sessionFolders(p: IdentityProject): string[] {
  return readdirSync(p.path('data/sessions')).map((name) => join(p.path('data/sessions'), name));
}

const pngs = (dir: string) => readdirSync(dir).filter((n) => n.endsWith('.png')).sort();
const manifestOf = (dir: string) => JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { images: { filename: string }[]; status: string };

describe('operational params never make anything stale', () => {
  it('generate.concurrency, retries, timeout_s, backoff_ms, endpoints and score.batch_size, workers, threads run 0 items', async () => {
    const p = await ranProject();
    const set = [
      'generate.concurrency=4', 'generate.retries=0', 'generate.timeout_s=5', 'generate.backoff_ms=1',
      'generate.endpoints=[http://127.0.0.1:7860, http://127.0.0.1:7861]', 'score.batch_size=3', 'score.workers=1', 'score.threads=1',
    ].flatMap((s) => ['--set', s]);
    expect(Object.values(await p.status(set)).every((s) => s.up_to_date)).toBe(true);
    const rerun = await p.run(set);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.stages.map((s) => [s.name, s.status, itemsRun(rerun, s.name)])).toEqual([
      ['resolve', 'skipped', 0], ['generate', 'skipped', 0], ['catalog', 'skipped', 0], ['score', 'skipped', 0],
    ]);
  });

  it('against A1111 servers: another endpoint list or pool settings request nothing; a pinned model requests everything', async () => {
    const server = await startA1111StandIn({});
    try {
      const p = await ranProject({ generate: `{backend: a1111, endpoints: ["${server.url}"], concurrency: 1, retries: 1, backoff_ms: 10}` });
      expect(server.txt2img()).toHaveLength(6);
      const pool = ['--set', `generate.endpoints=["${server.url}", "http://127.0.0.1:9"]`, '--set', 'generate.concurrency=2', '--set', 'generate.timeout_s=30'];
      const same = await p.run(pool);
      expect([itemsRun(same, 'generate'), itemsRun(same, 'score')]).toEqual([0, 0]);
      expect(server.txt2img()).toHaveLength(6);
      const models = await p.run(['--set', 'generate.model=animefull']);
      expect(itemsRun(models, 'generate')).toBe(6);
      expect(server.txt2img().slice(6).map((r) => (r.override_settings as { sd_model_checkpoint?: string })?.sd_model_checkpoint)).toEqual(Array(6).fill('animefull'));
    } finally {
      await server.close();
    }
  });

  it('a mistyped param is bad input that names the param meant', async () => {
    project = IdentityProject.create();
    const typo = await project.pipeline(['status', '--set', 'generate.concurency=4']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('did you mean generate.concurrency?');
    const run = await project.pipeline(['run', '--set', 'score.tresholds.success=0.9']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('did you mean score.thresholds.success?');
  });
});

describe('thresholds re-derive verdicts from stored measurements', () => {
  it('runs 0 score items and changes the verdicts', async () => {
    const p = await ranProject();
    const verdicts = () => p.sql<{ verdict: string; n: number }>('SELECT verdict, count(*)::INTEGER AS n FROM quality GROUP BY 1 ORDER BY 1');
    const before = await verdicts();
    const rerun = await p.run(['--set', 'score.thresholds.success=0.999999', '--set', 'score.thresholds.partial=0.999998']);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(itemsRun(rerun, 'score')).toBe(0);
    expect(rerun.stages.find((s) => s.name === 'score')!.status).toBe('ran');
    const after = await verdicts();
    expect(after).not.toEqual(before);
    expect(after.reduce((n, v) => n + v.n, 0)).toBe(6);
    expect(after.filter((v) => v.verdict === 'success' || v.verdict === 'partial').reduce((n, v) => n + v.n, 0)).toBeLessThan(
      before.filter((v) => v.verdict === 'success' || v.verdict === 'partial').reduce((n, v) => n + v.n, 0),
    );
  });
});

describe('sessions extend', () => {
  it('one new variation value renders exactly the new combinations, into the same folder, overwriting nothing', async () => {
    // The demo renderer paints a failed axis with another of its values, so with failures
    // on, an image whose failure draw lands on the new value really changes and re-renders.
    const exact = ['--set', 'generate.failure_rate=0'];
    const p = await ranProject({ set: exact });
    const [folder] = sessionFolders(p);
    const before = new Map(pngs(folder!).map((n) => [n, statSync(join(folder!, n)).ino]));
    expect(before.size).toBe(6);
    // Outfit is the inner axis: the new combinations fall between the old ones in plan order,
    // so two of them are planned under names the old images hold, and take free ones.
    p.append('data/variations/outfit.yaml', 'Coat: "a coat"\n');
    const status = await p.status(exact);
    expect(status.generate!.reasons).toEqual(['upstream resolve will run first']);
    const rerun = await p.run(exact);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(itemsRun(rerun, 'generate')).toBe(3);
    expect(sessionFolders(p)).toEqual([folder]);
    const after = pngs(folder!);
    expect(after).toHaveLength(9);
    // Every image of the first run is still there, the same file.
    for (const [name, ino] of before) expect(statSync(join(folder!, name)).ino).toBe(ino);
    const manifest = manifestOf(folder!);
    expect(manifest.images.map((i) => i.filename).sort()).toEqual(after);
    expect(manifest.status).toBe('completed');
    const rows = await p.sql<{ n: number; files: number }>("SELECT count(*)::INTEGER AS n, count(DISTINCT session_dir || '/' || filename)::INTEGER AS files FROM rendered");
    expect(rows).toEqual([{ n: 9, files: 9 }]);
  });

  it('removing a value drops its rows from the tables and keeps every PNG', async () => {
    const p = await ranProject();
    const [folder] = sessionFolders(p);
    const planned = p.read('data/variations/hair.yaml');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(p.path('data/variations/hair.yaml'), planned.replace('Red: "red hair"\n', ''));
    const rerun = await p.run();
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(itemsRun(rerun, 'generate')).toBe(0);
    expect(await p.sql('SELECT count(*)::INTEGER AS n FROM rendered')).toEqual([{ n: 4 }]);
    expect(pngs(folder!)).toHaveLength(6);
  });

  it('a change to every request renders a new session folder and leaves the first as it was', async () => {
    const p = await ranProject();
    const [first] = sessionFolders(p);
    const before = readFileSync(join(first!, 'manifest.json'), 'utf8');
    const inodes = pngs(first!).map((n) => statSync(join(first!, n)).ino);
    // Every image blank: the same planned images, other pictures.
    const rerun = await p.run(['--set', 'generate.blank_rate=1']);
    expect(itemsRun(rerun, 'generate')).toBe(6);
    const folders = sessionFolders(p).sort();
    expect(folders).toHaveLength(2);
    expect(folders[0]).toBe(first);
    expect(readFileSync(join(first!, 'manifest.json'), 'utf8')).toBe(before);
    expect(pngs(first!).map((n) => statSync(join(first!, n)).ino)).toEqual(inodes);
    expect(pngs(folders[1]!)).toEqual(pngs(first!));
    expect(manifestOf(folders[1]!).images).toHaveLength(6);
  });

  it('resolve.count 5 -> 6 renders 1, into the folder holding the 5', async () => {
    const p = await ranProject({ set: ['--set', 'resolve.count=5'] });
    const rerun = await p.run(['--set', 'resolve.count=6']);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(itemsRun(rerun, 'generate')).toBe(1);
    expect(itemsRun(rerun, 'score')).toBe(1);
    const folders = sessionFolders(p);
    expect(folders).toHaveLength(1);
    expect(pngs(folders[0]!)).toHaveLength(6);
    expect(readdirSync(folders[0]!).filter((n) => n.endsWith('.json'))).toEqual(['manifest.json']);
    expect(manifestOf(folders[0]!).images).toHaveLength(6);
  });
});

describe('code changes', () => {
  it('an edit to code that cannot change results reruns 0 items; a version bump reruns them all', async () => {
    const p = await ranProject({ ownBuild: true });
    // The engine is outside every stage's code closure: an edit there changes no fingerprint.
    p.editBuild('dist/src/runner.js', (t) => `${t}\n// an engine edit\n`);
    expect(Object.values(await p.status()).every((s) => s.up_to_date)).toBe(true);
    // Session bookkeeping is in generate's closure, but not in what defines an image.
    p.editBuild('dist/stages/generate/sessions.js', (t) => `${t}\n// a bookkeeping edit\n`);
    expect((await p.status()).generate!.reasons).toEqual(['code changed; results unaffected', 'items: +0 to run, -0 removed, 6 reused']);
    const edited = await p.run();
    expect(edited.code, edited.stderr).toBe(0);
    expect([itemsRun(edited, 'generate'), itemsRun(edited, 'score')]).toEqual([0, 0]);

    p.editBuild('dist/stages/generate/index.js', (t) => t.replace("version: '1'", "version: '2'"));
    expect((await p.status()).generate!.reasons).toEqual(['generate version 1 -> 2: 6 items to rerun']);
    const bumped = await p.run();
    expect(bumped.code, bumped.stderr).toBe(0);
    expect(itemsRun(bumped, 'generate')).toBe(6);
    // The same pictures again: score finds its measurements memoised.
    expect(itemsRun(bumped, 'score')).toBe(0);

    // Whatever score declares now, one more.
    p.editBuild('dist/stages/score/index.js', (t) => t.replace(/version: '(\d+)'/, (_, v) => `version: '${Number(v) + 1}'`));
    const rescored = await p.run();
    expect(itemsRun(rescored, 'score')).toBe(6);
  });
});

describe('upgrading from memo keys that predate identities', () => {
  /** A project whose generate ran as every map stage did before identities, lock entries without versions. */
  async function legacyProject(): Promise<IdentityProject> {
    project = IdentityProject.create({ ownBuild: true });
    const p = project;
    const stage = 'dist/stages/generate/index.js';
    let declared = '';
    p.editBuild(stage, (t) => ((declared = t), t.replace("version: '1',", '').replace('identity: renderIdentities,', '')));
    expect(itemsRun(await p.run(), 'generate')).toBe(6);
    writeFileSync(p.path('pipeline.lock'), p.read('pipeline.lock').replace(/^ +version: .*\n/gm, ''));
    p.editBuild(stage, () => declared);
    return p;
  }

  it('takes the old results over: 0 items rendered, the same session folder', async () => {
    const p = await legacyProject();
    expect((await p.status()).resolve!.reasons).toEqual(['recorded by an older sdloop, before stage identities']);
    expect(itemsRun(await p.run(['resolve']), 'resolve')).toBe(0);
    expect((await p.status()).generate!.reasons).toEqual(['recorded by an older sdloop, before stage identities: 0 items to rerun']);
    const upgraded = await p.run();
    expect(upgraded.code, upgraded.stderr).toBe(0);
    expect([itemsRun(upgraded, 'generate'), itemsRun(upgraded, 'score')]).toEqual([0, 0]);
    expect(sessionFolders(p)).toHaveLength(1);
    expect(Object.values(await p.status()).every((s) => s.up_to_date)).toBe(true);
    // Once taken over, the results are the stage's own: a param changed and back finds them.
    expect(itemsRun(await p.run(['--set', 'generate.blank_rate=0.5']), 'generate')).toBeGreaterThan(0);
    expect(itemsRun(await p.run(), 'generate')).toBe(0);
  });

  it('takes nothing over when a param that defines results changed with the upgrade', async () => {
    const p = await legacyProject();
    const changed = await p.run(['--set', 'generate.blank_rate=1']);
    expect(itemsRun(changed, 'generate')).toBe(6);
  });
});
