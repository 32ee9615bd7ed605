// LoRA hashes as the outside tools compute them, checked against values this test
// computes itself with node:crypto: sd-scripts' sshs_model_hash is SHA-256 of the bytes
// after the 8-byte length and the JSON header (its legacy hash: 64 KiB at 0x100000, 8
// hex), over the file with only ss_* metadata; A1111 writes `Lora hashes: "name: <12 hex>"`.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  a1111LoraShortHash, encodeSafetensors, precalculatedHashes, readSafetensorsHeader, writeSafetensors, type TensorData,
} from '../../adapters/safetensors.js';
import { formatLoraHashes, formatParameters, parseParameters } from '../../adapters/png-text.js';
import { writeSimulatedLora } from '../../demo/simulated-trainer.js';

const dir = mkdtempSync(join(tmpdir(), 'sdloop-lora-hashes-'));
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const afterHeader = (file: Buffer) => file.subarray(8 + Number(file.readBigUInt64LE(0)));

/** Tensors of a given total size, so the legacy hash's window at 1 MiB holds data. */
function tensorsOf(floats: number): Record<string, TensorData> {
  const data = new Float32Array(floats).map((_, i) => Math.sin(i));
  return {
    'lora_unet_a.lora_down.weight': { dtype: 'F32', shape: [floats / 2], data: data.subarray(0, floats / 2) },
    'lora_unet_a.lora_up.weight': { dtype: 'F32', shape: [floats / 2], data: data.subarray(floats / 2) },
  };
}

describe("sd-scripts' sshs hashes", () => {
  it('sshs_model_hash is SHA-256 of the bytes after the header, whatever the metadata', () => {
    const tensors = tensorsOf(600_000);
    const training = { ss_output_name: 'x', ss_network_dim: '16' };
    const hashes = precalculatedHashes(tensors, { ...training, modelspec_title: 'ignored', sdloop_note: 'ignored' });
    const withOtherMetadata = encodeSafetensors(tensors, { ...training, ...hashes, sdloop_note: 'anything' });
    expect(hashes.sshs_model_hash).toBe(sha256(afterHeader(withOtherMetadata)));
    expect(hashes.sshs_model_hash).not.toBe(sha256(withOtherMetadata));
  });

  it('sshs_legacy_hash is 8 hex of SHA-256 over 64 KiB at byte 0x100000 of the ss_*-only file', () => {
    const tensors = tensorsOf(600_000);
    const training = { ss_output_name: 'x', ss_network_dim: '16' };
    const ssOnly = encodeSafetensors(tensors, training);
    expect(precalculatedHashes(tensors, { ...training, other: 'not hashed' }).sshs_legacy_hash).toBe(sha256(ssOnly.subarray(0x100000, 0x110000)).slice(0, 8));
    // A file under 1 MiB hashes nothing there: sd-scripts then writes SHA-256 of no bytes.
    expect(precalculatedHashes(tensorsOf(8), training).sshs_legacy_hash).toBe(sha256(Buffer.alloc(0)).slice(0, 8));
  });

  it('the simulated trainer writes both, as sd-scripts would for its file', async () => {
    const path = join(dir, 'sim.safetensors');
    await writeSimulatedLora(path, {
      name: 'sim', subsets: [{ dir: '10_a', repeats: 10, images: ['1.png'], tags: { a: 1 } }], datasetHash: 'ab'.repeat(32),
      dim: 16, alpha: 8, learningRate: 1e-4, steps: 10, epochs: 1, baseModel: 'demo', resolution: 512,
    });
    const file = readFileSync(path);
    const { metadata } = await readSafetensorsHeader(path);
    expect(metadata.sshs_model_hash).toBe(sha256(afterHeader(file)));
    expect(metadata.sshs_legacy_hash).toBe(sha256(Buffer.alloc(0)).slice(0, 8));
  });
});

describe("A1111's Lora hashes", () => {
  it('takes the first 12 hex of sshs_model_hash, else of the same hash computed from the file', async () => {
    const tensors = tensorsOf(64);
    const carrying = join(dir, 'carrying.safetensors');
    await writeSafetensors(carrying, tensors, { ss_output_name: 'c', sshs_model_hash: 'f00dfeed'.repeat(8) });
    expect(await a1111LoraShortHash(carrying)).toBe('f00dfeedf00d');
    const bare = join(dir, 'bare.safetensors');
    await writeSafetensors(bare, tensors, { ss_output_name: 'b' });
    const file = readFileSync(bare);
    expect(await a1111LoraShortHash(bare)).toBe(sha256(afterHeader(file)).slice(0, 12));
    expect(await a1111LoraShortHash(bare)).not.toBe(sha256(file).slice(0, 12));
  });

  it('writes `name: hash` pairs, names without : and , and each name once, quoted in the parameters line', () => {
    const value = formatLoraHashes([
      { name: 'hair:fix', shortHash: '0123456789ab' }, { name: 'style,v2', shortHash: 'ba9876543210' }, { name: 'hair:fix', shortHash: '0123456789ab' },
    ]);
    expect(value).toBe('hairfix: 0123456789ab, stylev2: ba9876543210');
    const text = formatParameters({ prompt: 'p', negativePrompt: '', settings: { Steps: '20', Seed: '1', Size: '512x512', 'Lora hashes': value } });
    expect(text).toContain('Lora hashes: "hairfix: 0123456789ab, stylev2: ba9876543210"');
    expect(parseParameters(text).settings['Lora hashes']).toBe(value);
  });
});
