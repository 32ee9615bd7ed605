import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { describeRunProgress, formatDuration, formatEta, formatRate, readRunProgress, RunProgressFile, type RunProgress } from '../../src/run-progress.js';
import { createReporter } from '../../src/progress.js';

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
    'generate: running for 40 s 40/100 items (2.0 items/s, ETA 30 s)',
    'score: waiting',
  ]);
});

it('says ETA in words, unknown before a rate, and counts what the stage counts (train: steps)', () => {
  const now = Date.parse('2026-01-01T01:00:00Z');
  const progress: RunProgress = {
    pid: 1, started_at: '2026-01-01T00:00:00Z', command: 'run', updated_at: '2026-01-01T01:00:00Z',
    stages: {
      score: { state: 'running', since: '2026-01-01T00:59:59Z', done: 0, total: 500 },
      train: { state: 'running', since: '2026-01-01T00:00:00Z', done: 1200, total: 2000, unit: 'steps', rate: 0.05 },
    },
  };
  expect(describeRunProgress(progress, ['score', 'train'], now)).toEqual([
    'score: running for 1 s 0/500 items (rate: measuring, ETA unknown)',
    'train: running for 1 h 00 min 1200/2000 steps (3.0 steps/min, ETA 4 h 26 min)',
  ]);
  expect(formatDuration(200)).toBe('3 min 20 s');
  expect(formatEta(10, 10, undefined)).toBe('ETA 0 s');
  expect(formatRate(12.345, 'items')).toBe('12.3 items/s');
});

it('plain progress lines carry the unit, the rate and an ETA in words, never a placeholder', () => {
  const lines: string[] = [];
  const reporter = createReporter('plain', (s) => lines.push(s));
  reporter.progress('train', 0, 100, 'steps');
  reporter.progress('train', 100, 100, 'steps');
  expect(lines[0]).toBe('train: 0/100 steps\n');
  expect(lines[1]).toMatch(/^train: 100\/100 steps \((rate: measuring|[\d.]+ steps\/(s|min)), ETA 0 s\)\n$/);
  expect(lines.join('')).not.toMatch(/NULL|LL|items/);
});

it('keeps the workers of a distributed stage, and describes each under its stage', () => {
  const path = join(dir, 'progress.json');
  const file = new RunProgressFile(path, { command: 'run score' });
  file.stage('score', 'running');
  file.workers('score', [
    { name: 'w1', batches: 3, items: 96, rate: 0.5, last_seen: '2026-01-01T00:00:58Z' },
    { name: 'stale', batches: 0, items: 0, last_seen: '2026-01-01T00:00:30Z', refuses: 'its stage params differ' },
  ]);
  const progress = readRunProgress(path)!;
  progress.stages.score = { ...progress.stages.score!, since: '2026-01-01T00:00:00Z', done: 96, total: 186, rate: 2 };
  expect(describeRunProgress(progress, ['score'], Date.parse('2026-01-01T00:01:00Z'))).toEqual([
    'score: running for 1 min 00 s 96/186 items (2.0 items/s, ETA 45 s)',
    '  worker w1: 3 batches (96 items, 0.5 batches/s, seen 2 s ago)',
    '  worker stale: 0 batches (0 items, seen 30 s ago); refuses: its stage params differ',
  ]);
});

it('plain progress names the workers, at most every few seconds', () => {
  const lines: string[] = [];
  const reporter = createReporter('plain', (s) => lines.push(s));
  const worker = { name: 'w1', batches: 1, items: 32, last_seen: new Date().toISOString() };
  reporter.workers!('score', [worker]);
  reporter.workers!('score', [{ ...worker, batches: 2 }]);
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^score: workers: w1: 1 batch \(32 items, seen [01] s ago\)\n$/);
});
