// train.save_every_n_epochs: the files sd-scripts saves along the way, named as it names
// them, each validated, stored and listed in lora_info with its epoch.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeTestContext, runWholeStage } from '../../src/testing.js';
import { loraInfoRow } from '../../schemas/tables.js';
import { readSafetensorsHeader, validateLora } from '../../adapters/safetensors.js';
import train from '../../stages/train/index.js';
import { savedEpochs } from '../../stages/train/epochs.js';
import { freshDir, makeDataset, standinDir } from './fixtures.js';

async function runTrain(settings: Record<string, unknown>) {
  const dir = freshDir('train-epochs');
  const dataset = makeDataset(dir, { red_hair: ['sdloop, red hair'], blue_eyes: ['sdloop, blue eyes'] }, 2);
  const ctx = makeTestContext({ dir, stage: 'train', params: train.params.parse({ train: settings }) });
  ctx.inputs.dataset = { kind: 'path', name: 'dataset', path: dataset, hash: 'fedcba9876543210fedcba9876543210' };
  const out = (await runWholeStage(train, ctx)) as { lora: { path: string }; lora_info: unknown[] };
  return { dir: out.lora.path, rows: out.lora_info.map((r) => loraInfoRow.parse(r)) };
}

const expected = ['sdloop-fedcba9876-000002.safetensors', 'sdloop-fedcba9876-000004.safetensors', 'sdloop-fedcba9876.safetensors'];

describe('saved epochs', () => {
  it('are every N-th epoch before the last, as sd-scripts saves them', () => {
    expect(savedEpochs(5, 2)).toEqual([2, 4]);
    expect(savedEpochs(4, 2)).toEqual([2]);
    expect(savedEpochs(4, null)).toEqual([]);
    expect(savedEpochs(3, 5)).toEqual([]);
  });

  for (const [trainer, settings] of [
    ['simulated', {}],
    ['sd-scripts (stand-in)', { trainer: 'sd-scripts', sd_scripts_dir: standinDir, launcher: 'python3', base_model: '/models/base.safetensors' }],
  ] as const) {
    it(`${trainer}: writes <name>-<epoch:06d> files and the final one, each in lora_info with its epoch`, async () => {
      const { dir, rows } = await runTrain({ ...settings, max_train_epochs: 5, save_every_n_epochs: 2 });
      expect(readdirSync(dir).sort()).toEqual(expected);
      expect(rows.map((r) => [r.name, r.epoch])).toEqual([['sdloop-fedcba9876', 5], ['sdloop-fedcba9876-000002', 2], ['sdloop-fedcba9876-000004', 4]]);
      expect(new Set(rows.map((r) => r.hash)).size).toBe(3);
      expect(rows[1]!.steps).toBeLessThan(rows[0]!.steps);
      for (const f of expected) {
        expect(await validateLora(join(dir, f))).toEqual([]);
        expect((await readSafetensorsHeader(join(dir, f))).metadata).toMatchObject({ ss_output_name: 'sdloop-fedcba9876', ss_num_epochs: '5' });
      }
      expect((await readSafetensorsHeader(join(dir, expected[0]!))).metadata.ss_epoch).toBe('2');
    });
  }

  it('keeps one file, at the last epoch, without save_every_n_epochs', async () => {
    const { rows } = await runTrain({ max_train_epochs: 3 });
    expect(rows.map((r) => [r.name, r.epoch])).toEqual([['sdloop-fedcba9876', 3]]);
  });
});
