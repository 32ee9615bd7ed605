// A run killed after a session's last image committed, but before the session was closed,
// leaves its manifest `ongoing`; the resume has nothing to render and closes it.
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { readLockFile } from '../../src/lockfile.js';
import { copyExampleProject } from '../example-project.js';
import { pipeline } from '../engine/crash-trial.js';

const dir = copyExampleProject('sdloop-session-close-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('closes on resume the sessions a killed run left ongoing with all their images', async () => {
  expect((await pipeline(dir)(['run', 'generate'])).code).toBe(0);
  const sessions = join(dir, 'data', 'sessions');
  const manifests = readdirSync(sessions).map((s) => join(sessions, s, 'manifest.json'));
  const statuses = () => manifests.map((m) => (JSON.parse(readFileSync(m, 'utf8')) as { status: string }).status);
  const closed = statuses();
  // As the kill left it: the images and the memo committed, the manifest not yet closed, the lock not yet written.
  const manifest = JSON.parse(readFileSync(manifests[0]!, 'utf8')) as { status: string };
  writeFileSync(manifests[0]!, JSON.stringify({ ...manifest, status: 'ongoing' }, null, 2));
  rmSync(join(dir, readLockFile(join(dir, 'pipeline.lock')).stages.generate!.outs.rendered!.path));

  const resumed = await pipeline(dir)(['run', 'generate']);
  expect(resumed.code, resumed.stderr).toBe(0);
  expect(resumed.stderr).toMatch(/generate: done in [\d.]+ s: 0 items run, \d+ reused/);
  expect(resumed.stderr).toContain('closed 1 session folder(s) a killed run left ongoing');
  expect(statuses()).toEqual(closed);
}, 300_000);
