// Atomic writes are durable: the file's bytes reach the disk before the rename, and the
// folder entry after it; a power loss cannot leave the new name on an empty file.
import { mkdtempSync, readFileSync, readlinkSync, realpathSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it, vi } from 'vitest';
import { produceAtomic, writeFileAtomic } from '../../src/atomic.js';

const dirs: string[] = [];
afterEach(() => {
  vi.restoreAllMocks();
  dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true }));
});

async function syncedPaths(work: (dir: string) => Promise<void>): Promise<{ dir: string; synced: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'sdloop-atomic-'));
  dirs.push(dir);
  const probe = await open(dir, 'r');
  const handleClass = Object.getPrototypeOf(probe) as { sync(): Promise<void> };
  await probe.close();
  const synced: string[] = [];
  const realSync = handleClass.sync;
  vi.spyOn(handleClass, 'sync').mockImplementation(async function (this: { fd: number }) {
    // What the handle was opened on, as the kernel names it (Linux).
    synced.push(readlinkSync(`/proc/self/fd/${this.fd}`));
    return realSync.call(this);
  });
  await work(dir);
  return { dir, synced };
}

it('writeFileAtomic flushes the temporary file, then the folder', async () => {
  const { dir, synced } = await syncedPaths((d) => writeFileAtomic(join(d, 'a.txt'), 'alpha'));
  expect(readFileSync(join(dir, 'a.txt'), 'utf8')).toBe('alpha');
  expect(synced).toHaveLength(2);
  expect(synced[0]).toMatch(/\.a\.txt\.\d+\.[0-9a-f]{8}\.tmp$/);
  expect(synced[1]).toBe(realpathSync(dir));
});

it('produceAtomic flushes what was produced, then the folder', async () => {
  const { dir, synced } = await syncedPaths((d) => produceAtomic(join(d, 'b.bin'), async (tmp) => {
    const { writeFile } = await import('node:fs/promises');
    await writeFile(tmp, 'beta');
  }));
  expect(readFileSync(join(dir, 'b.bin'), 'utf8')).toBe('beta');
  expect(synced.at(-1)).toBe(realpathSync(dir));
  expect(synced).toHaveLength(2);
});
