import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { describeRunProgress, readRunProgress, RunProgressFile, type RunProgress } from '../../src/run-progress.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sdloop-progress-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

it('records stage states and item counts for status to read, and leaves nothing when removed', () => {
  const path = join(dir, 'progress.json');
  const file = new RunProgressFile(path, { command: 'run score' });
  file.stage('resolve', 'skipped');
  file.stage('score', 'running');
  file.items('score', 0, 100);
  const progress = readRunProgress(path)!;
  expect(progress.pid).toBe(process.pid);
  expect(progress.command).toBe('run score');
  expect(progress.stages.resolve!.state).toBe('skipped');
  expect(progress.stages.score).toMatchObject({ state: 'running', done: 0, total: 100 });
  file.items('score', 100, 100);
  file.stage('score', 'done');
  expect(readRunProgress(path)!.stages.score).toMatchObject({ state: 'done', done: 100, total: 100 });
  file.remove();
  expect(readdirSync(dir)).toEqual([]);
  expect(readRunProgress(path)).toBeUndefined();
});

it('describes each stage: waiting, running with rate and ETA, or finished', () => {
  const now = Date.parse('2026-01-01T00:01:00Z');
  const progress: RunProgress = {
    pid: 1,
    started_at: '2026-01-01T00:00:00Z',
    command: 'run',
    updated_at: '2026-01-01T00:01:00Z',
    stages: {
      resolve: { state: 'done', since: '2026-01-01T00:00:01Z' },
      generate: { state: 'running', since: '2026-01-01T00:00:20Z', done: 40, total: 100, rate: 2 },
    },
  };
  expect(describeRunProgress(progress, ['resolve', 'generate', 'score'], now)).toEqual([
    'resolve: done',
    'generate: running for 40 s 40/100 items (2.0/s, ETA 30 s)',
    'score: waiting',
  ]);
});
