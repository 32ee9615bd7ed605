import { mkdtempSync, readFileSync, writeFileSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeSafetensors, readF32Tensor, readSafetensorsHeader, validateLora, writeSafetensors } from '../../adapters/safetensors.js';

const dir = mkdtempSync(join(tmpdir(), 'sdloop-safetensors-'));
const loraMetadata = { ss_output_name: 'x', ss_network_module: 'networks.lora', ss_network_dim: '4', ss_network_alpha: '2' };

/** Build a file by hand from a header object and raw data, as another writer might. */
function handMade(name: string, header: unknown, data: Buffer): string {
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  const path = join(dir, name);
  writeFileSync(path, Buffer.concat([length, json, data]));
  return path;
}

describe('safetensors', () => {
  it('encodes the exact bytes of the reference layout', () => {
    const bytes = encodeSafetensors({ a: { dtype: 'F32', shape: [1], data: new Float32Array([1]) } });
    const json = '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}';
    expect(json.length).toBe(54);
    expect(bytes.readBigUInt64LE(0)).toBe(56n);
    expect(bytes.subarray(8, 64).toString()).toBe(json + '  ');
    expect([...bytes.subarray(64)]).toEqual([0x00, 0x00, 0x80, 0x3f]);
  });

  it('writes and reads back tensors, metadata and 8-byte aligned data', async () => {
    const path = join(dir, 'round.safetensors');
    const up = new Float32Array([0.5, -1.25, 3, 4, 5, 6]);
    await writeSafetensors(
      path,
      {
        'lora_unet_x.lora_up.weight': { dtype: 'F32', shape: [3, 2], data: up },
        'lora_unet_x.alpha': { dtype: 'F16', shape: [], data: new Uint16Array([0x3c00]) },
        'lora_unet_x.lora_down.weight': { dtype: 'F16', shape: [2], data: new Uint16Array([0x4000, 0xc000]) },
      },
      { ...loraMetadata, ss_tag_frequency: JSON.stringify({ '1_red': { red: 2 } }) },
    );
    const header = await readSafetensorsHeader(path);
    expect(header.headerSize % 8).toBe(0);
    expect(header.metadata.ss_tag_frequency).toBe('{"1_red":{"red":2}}');
    expect(header.tensors['lora_unet_x.lora_up.weight']).toEqual({ dtype: 'F32', shape: [3, 2], data_offsets: [0, 24] });
    expect(header.tensors['lora_unet_x.alpha']).toEqual({ dtype: 'F16', shape: [], data_offsets: [24, 26] });
    expect(header.tensors['lora_unet_x.lora_down.weight']).toEqual({ dtype: 'F16', shape: [2], data_offsets: [26, 30] });
    expect([...(await readF32Tensor(path, 'lora_unet_x.lora_up.weight'))]).toEqual([...up]);
    const raw = readFileSync(path);
    expect(raw.readUInt16LE(8 + header.headerSize + 26)).toBe(0x4000);
    expect(await validateLora(path)).toEqual([]);
  });

  it('gives the same bytes for the same content whatever the key order', () => {
    const t = (v: number) => ({ dtype: 'F32' as const, shape: [1], data: new Float32Array([v]) });
    const a = encodeSafetensors({ b: t(1), a: t(2) }, { y: '1', x: '2' });
    const b = encodeSafetensors({ a: t(2), b: t(1) }, { x: '2', y: '1' });
    expect(a.equals(b)).toBe(true);
  });

  it('rejects data that does not match the shape', () => {
    expect(() => encodeSafetensors({ a: { dtype: 'F32', shape: [2], data: new Float32Array([1]) } })).toThrow(/needs 8 bytes/);
  });

  it('reports a file that is not safetensors', async () => {
    const tiny = join(dir, 'tiny.safetensors');
    writeFileSync(tiny, Buffer.from([1, 2, 3]));
    expect((await validateLora(tiny))[0]).toMatch(/at least 8 bytes/);
    const huge = join(dir, 'huge.safetensors');
    const b = Buffer.alloc(16);
    b.writeBigUInt64LE(1000n);
    writeFileSync(huge, b);
    expect((await validateLora(huge))[0]).toMatch(/header length 1000 does not fit a file of 16 bytes/);
    const notJson = handMade('notjson.safetensors', 'x', Buffer.alloc(0));
    writeFileSync(notJson, Buffer.concat([readFileSync(notJson).subarray(0, 8), Buffer.from('{"a":')]));
    expect((await validateLora(notJson))[0]).toMatch(/header is not JSON/);
    await expect(readSafetensorsHeader(notJson)).rejects.toThrow(/not a valid \.safetensors/);
  });

  it('reports a truncated file', async () => {
    const path = join(dir, 'cut.safetensors');
    await writeSafetensors(path, { 'a.lora_up.weight': { dtype: 'F32', shape: [4], data: new Float32Array(4) } }, loraMetadata);
    truncateSync(path, readFileSync(path).length - 4);
    expect(await validateLora(path)).toEqual([
      expect.stringMatching(/data ends at 16, past the 12 data bytes/),
      expect.stringMatching(/tensors cover 16 data bytes but the file holds 12/),
    ]);
  });

  it('reports gaps, wrong sizes, no tensors and missing ss_* metadata', async () => {
    const gap = handMade(
      'gap.safetensors',
      {
        __metadata__: loraMetadata,
        'a.lora_up.weight': { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
        'a.lora_down.weight': { dtype: 'F32', shape: [2], data_offsets: [8, 12] },
      },
      Buffer.alloc(12),
    );
    expect(await validateLora(gap)).toEqual([
      expect.stringMatching(/lora_down.weight: data starts at 8, expected 4/),
      expect.stringMatching(/needs 8 bytes, offsets give 4/),
    ]);
    const empty = handMade('empty.safetensors', { __metadata__: loraMetadata }, Buffer.alloc(0));
    expect(await validateLora(empty)).toEqual([expect.stringMatching(/at least one tensor/)]);
    const bare = handMade('bare.safetensors', { 'w.weight': { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, Buffer.alloc(4));
    const problems = await validateLora(bare);
    expect(problems[0]).toMatch(/expected lora_up \/ lora_down tensors/);
    expect(problems.slice(1)).toEqual([
      expect.stringMatching(/ss_output_name missing/),
      expect.stringMatching(/ss_network_module missing/),
      expect.stringMatching(/ss_network_dim missing/),
      expect.stringMatching(/ss_network_alpha missing/),
    ]);
  });

  it('rejects malformed tensor entries and non-string metadata', async () => {
    const badEntry = handMade('entry.safetensors', { a: { dtype: 'Q4', shape: [1], data_offsets: [0, 4] } }, Buffer.alloc(4));
    expect((await validateLora(badEntry))[0]).toMatch(/tensor "a": expected \{dtype/);
    const badMeta = handMade('meta.safetensors', { __metadata__: { n: 1 } }, Buffer.alloc(0));
    expect((await validateLora(badMeta))[0]).toMatch(/__metadata__ to map names to strings/);
  });
});
