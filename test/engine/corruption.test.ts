// Damage done to a finished project by hand, one kind of file at a time: the next run
// either repairs it (ending with what an undamaged project has) or fails naming the file,
// and never reports wrong outputs as up to date.
import { closeSync, linkSync, openSync, readFileSync, readdirSync, rmSync, statSync, truncateSync, writeSync } from 'node:fs';
import { join, relative } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readLockFile } from '../../src/lockfile.js';
import { cloneProject, pipeline, referenceRun, snapshot, target, type Snapshot } from './crash-trial.js';
import { stageStatuses } from './helpers.js';

const dirs: string[] = [];
let base: { dir: string; snapshot: Snapshot };
let repeats: Snapshot;
const moreRepeats = ['--set', 'dataset.max_repeats=5'];

beforeAll(async () => {
  base = await referenceRun([]);
  dirs.push(base.dir);
  const other = await referenceRun(moreRepeats, base.dir);
  dirs.push(other.dir);
  repeats = other.snapshot;
}, 600_000);
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function damaged(): string {
  const dir = cloneProject(base.dir);
  dirs.push(dir);
  return dir;
}

const outPath = (dir: string, stage: string, output: string) => join(dir, readLockFile(join(dir, 'pipeline.lock')).stages[stage]!.outs[output]!.path);

/** Overwrite bytes in the middle of a file, keeping its size. */
function garble(file: string): void {
  const fd = openSync(file, 'r+');
  writeSync(fd, Buffer.alloc(64, 0x5a), 0, 64, Math.floor(statSync(file).size / 2));
  closeSync(fd);
}

/** The selected images' stored PNGs (what the dataset is built from). */
function selectedObjects(dir: string): string[] {
  const img = join(outPath(dir, 'dataset', 'dataset'), 'img');
  const ids = readdirSync(img, { recursive: true }).map(String).filter((f) => f.endsWith('.png')).map((f) => f.split('/').pop()!.replace('.png', ''));
  return ids.map((id) => join(dir, 'data', 'objects', id.slice(0, 2), `${id}.png`));
}

async function runOk(dir: string, args: string[] = []) {
  const result = await pipeline(dir)(['run', target, ...args]);
  expect(result.code, result.stderr).toBe(0);
  return result;
}

async function allUpToDate(dir: string, args: string[] = []): Promise<void> {
  const stale = Object.values(await stageStatuses(pipeline(dir), [target, ...args])).filter((s) => !s.up_to_date);
  expect(stale).toEqual([]);
}

describe('a damaged output makes its stage stale with the reason, and the run repairs it', () => {
  it.each([
    ['truncated images.parquet', 'catalog', 'images', (f: string) => truncateSync(f, 100)],
    ['garbled selection.parquet', 'select', 'selection', garble],
  ])('%s', async (_what, stage, output, damage) => {
    const dir = damaged();
    damage(outPath(dir, stage, output));
    const statuses = await stageStatuses(pipeline(dir), [target]);
    expect(statuses[stage]!.reasons.join('\n')).toMatch(new RegExp(`output ${output} changed since it was recorded \\(data/tables/${output}-`));
    await runOk(dir);
    expect(snapshot(dir)).toEqual(base.snapshot);
    await allUpToDate(dir);
  }, 300_000);

  it('deleted dataset PNGs and a deleted .safetensors', async () => {
    const dir = damaged();
    const img = join(outPath(dir, 'dataset', 'dataset'), 'img');
    const first = readdirSync(img)[0]!;
    for (const f of readdirSync(join(img, first)).filter((n) => n.endsWith('.png'))) rmSync(join(img, first, f));
    const lora = outPath(dir, 'train', 'lora');
    for (const f of readdirSync(lora)) rmSync(join(lora, f));
    const statuses = await stageStatuses(pipeline(dir), [target]);
    expect(statuses.dataset!.reasons).toContain(`output dataset changed since it was recorded (${readLockFile(join(dir, 'pipeline.lock')).stages.dataset!.outs.dataset!.path}): made again`);
    expect(statuses.train!.up_to_date).toBe(false);
    await runOk(dir);
    expect(snapshot(dir)).toEqual(base.snapshot);
  }, 300_000);
});

describe('damage the outputs do not show', () => {
  it('a garbled memo part is removed and its items made again', async () => {
    const dir = damaged();
    const parts = join(dir, 'data', 'memo', 'generate');
    const part = readdirSync(parts, { recursive: true }).map(String).find((f) => f.endsWith('.rendered.parquet'))!;
    garble(join(parts, part));
    truncateSync(join(parts, part), 200);
    // The stage must assemble its table again, from its memo parts.
    rmSync(outPath(dir, 'generate', 'rendered'));
    const result = await runOk(dir);
    expect(result.stderr).toContain('memo parts that could not be read were removed');
    expect(snapshot(dir)).toEqual(base.snapshot);
  }, 300_000);

  it('a garbled stored PNG, and one truncated through its session hard link: the dataset keeps its own copy; status names both, the next run makes them again', async () => {
    const dir = damaged();
    const [first, second] = selectedObjects(dir);
    garble(first!);
    // Copying the project lost its hard links: link the session file to its object again, as generate does.
    const bytes = readFileSync(second!);
    const sessionLink = readdirSync(join(dir, 'data', 'sessions'), { recursive: true }).map(String)
      .map((f) => join(dir, 'data', 'sessions', f)).find((f) => f.endsWith('.png') && readFileSync(f).equals(bytes))!;
    rmSync(sessionLink);
    linkSync(second!, sessionLink);
    truncateSync(sessionLink, 10);
    expect(statSync(second!).size).toBe(10);
    // The dataset copied its images: damage to the store does not reach it.
    expect(snapshot(dir).dataset).toEqual(base.snapshot.dataset);
    const statuses = await stageStatuses(pipeline(dir), [target]);
    const named = [first!, second!].map((f) => relative(dir, f)).sort();
    expect(statuses.generate!.reasons).toContain(`stored objects ${named.join(', ')} damaged (bytes no longer match their names)`);
    const repaired = await runOk(dir, moreRepeats);
    expect(repaired.stderr).toContain('generate: removed 2 damaged stored objects');
    expect(snapshot(dir)).toEqual(repeats);
    await allUpToDate(dir, moreRepeats);
  }, 600_000);

  it('a deleted data/objects is made again', async () => {
    const dir = damaged();
    rmSync(join(dir, 'data', 'objects'), { recursive: true });
    const statuses = await stageStatuses(pipeline(dir), [target]);
    expect(statuses.generate!.reasons.join('\n')).toMatch(/memoised items name stored objects that are gone/);
    await runOk(dir);
    expect(snapshot(dir)).toEqual(base.snapshot);
    await allUpToDate(dir);
  }, 300_000);
});

describe('a damaged state', () => {
  it('a pipeline.lock that is not YAML is named in a warning and read from its copy', async () => {
    const dir = damaged();
    const lock = join(dir, 'pipeline.lock');
    const text = readFileSync(lock, 'utf8');
    const fd = openSync(lock, 'w');
    writeSync(fd, `${text.slice(0, 200)}\n  : [unclosed\n`);
    closeSync(fd);
    const status = await pipeline(dir)(['status', target]);
    expect(status.code).toBe(0);
    expect(status.stderr).toContain(`warning: ${lock}: not valid YAML`);
    expect(status.stdout).not.toContain('stale');
    const run = await runOk(dir);
    expect(run.stderr).toContain('not valid YAML');
    await allUpToDate(dir);
  }, 300_000);

  it('a dropped state table comes back empty instead of breaking every command', async () => {
    const dir = damaged();
    const instance = await DuckDBInstance.create(join(dir, 'data', 'state.duckdb'));
    const connection = await instance.connect();
    await connection.run('DROP TABLE stage_runs');
    connection.closeSync();
    instance.closeSync();
    await allUpToDate(dir);
    const rerun = await pipeline(dir)(['run', 'select', '--force']);
    expect(rerun.code, rerun.stderr).toBe(0);
  }, 300_000);
});
