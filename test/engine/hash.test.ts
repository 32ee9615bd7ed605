import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hashBytes, hashFile, hashSmallFileSync } from '../../src/hash.js';

const dir = mkdtempSync(join(tmpdir(), 'sdloop-hash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('file hashes', () => {
  it('are the hash of the bytes, the same read whole or streamed', async () => {
    const path = join(dir, 'small.bin');
    const bytes = Buffer.from('a small file\n'.repeat(1000));
    writeFileSync(path, bytes);
    expect(hashSmallFileSync(path, bytes.length)).toBe(hashBytes(bytes));
    expect(await hashFile(path)).toBe(hashBytes(bytes));
  });

  it('hash files over 64 MiB as the hash of their 64 MiB chunks, so they never sit whole in memory', async () => {
    const chunk = 64 << 20;
    const bytes = Buffer.alloc(chunk + 5);
    for (let i = 0; i < bytes.length; i += 4096) bytes[i] = i % 251;
    const path = join(dir, 'large.bin');
    writeFileSync(path, bytes);
    const expected = hashBytes(hashBytes(bytes.subarray(0, chunk)) + hashBytes(bytes.subarray(chunk)));
    expect(await hashFile(path)).toBe(expected);
    const exact = join(dir, 'exact.bin');
    writeFileSync(exact, bytes.subarray(0, chunk));
    expect(await hashFile(exact)).toBe(hashBytes(bytes.subarray(0, chunk)));
  });
});
