// Pruning reaches training, through the real CLI: after `prune --apply`, status says the
// images were pruned, the next run leaves them out of every downstream table and the
// kohya dataset folder, and `--restore` brings the folder back exactly as it was.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readLockFile } from '../../src/lockfile.js';
import { copyExampleProject, runPipeline, sqlRows } from '../example-project.js';

const pipeline = (dir: string, ...args: string[]) => runPipeline(dir, args);
const sql = sqlRows;

/** Every file of the kohya folder (image links and captions), relative, with its content. */
function datasetFiles(dir: string): Map<string, string> {
  const root = join(dir, readLockFile(join(dir, 'pipeline.lock')).stages.dataset!.outs.dataset!.path);
  const files = new Map<string, string>();
  for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) files.set(join(entry.parentPath, entry.name).slice(root.length + 1), readFileSync(join(entry.parentPath, entry.name), 'base64'));
  }
  return files;
}

const downstream = ['images', 'scores', 'quality', 'embeddings', 'predictions', 'selection'];

describe('pipeline prune', () => {
  it('takes the pruned images out of every downstream table and the dataset, and --restore brings them back', () => {
    const dir = copyExampleProject('sdloop-prune-');
    expect(pipeline(dir, 'run', 'dataset').code).toBe(0);
    const before = datasetFiles(dir);
    // Selected images, so the dataset is sure to lose some.
    const where = "images.image_id IN (SELECT image_id FROM selection WHERE axis = 'Weather')";
    const prune = pipeline(dir, 'prune', '--where', where, '--apply');
    expect(prune.code, prune.stderr).toBe(0);
    expect(prune.stdout).toMatch(/the next `pipeline run` leaves all \d+ out of the tables and the dataset/);
    const pruned = sql<{ image_id: string }>(dir, 'SELECT DISTINCT image_id FROM pruned WHERE restored_at IS NULL').map((r) => r.image_id);
    expect(pruned.length).toBeGreaterThan(0);
    const inDataset = (files: Map<string, string>) => [...files.keys()].filter((f) => pruned.some((id) => f.includes(id)));
    expect(inDataset(before).length).toBeGreaterThan(0);

    const stale = pipeline(dir, 'status');
    expect(stale.stdout).toMatch(new RegExp(`catalog: stale\\n(  - .*\\n)*  - ${pruned.length} images? pruned since the last run`));
    expect(stale.stdout).toMatch(/dataset: stale/);

    const run = pipeline(dir, 'run', 'dataset');
    expect(run.code, run.stderr).toBe(0);
    expect(inDataset(datasetFiles(dir))).toEqual([]);
    const ids = JSON.stringify(pruned);
    for (const table of downstream) {
      const [left] = sql<{ n: number }>(dir, `SELECT count(*)::INTEGER AS n FROM ${table} WHERE image_id IN (SELECT unnest(from_json('${ids}', '["VARCHAR"]')))`);
      expect(left, table).toEqual({ n: 0 });
    }
    expect(pipeline(dir, 'status', 'dataset').stdout).toMatch(/dataset: up to date/);

    expect(pipeline(dir, 'prune', '--restore').stdout).toMatch(/the next `pipeline run` brings them back/);
    expect(pipeline(dir, 'status').stdout).toMatch(new RegExp(`${pruned.length} images? restored since the last run`));
    expect(pipeline(dir, 'run', 'dataset').code).toBe(0);
    expect(datasetFiles(dir)).toEqual(before);

    // a record edited into something else is bad input naming the file
    const [batch] = readdirSync(join(dir, 'data', 'trash'));
    writeFileSync(join(dir, 'data', 'trash', batch!, 'record.json'), '{"batch": 3}');
    const broken = pipeline(dir, 'status');
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(new RegExp(`${batch}/record.json: batch: expected a prune record`));
  });
});
