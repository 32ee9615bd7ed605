// One hash for everything: xxh3-128 as 32 hex chars. Fast enough to hash every file
// and row, and collisions are not a concern for content addressing at this scale.
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { requireCommonJs } from './commonjs.js';

const { xxh3 } = requireCommonJs('@node-rs/xxhash') as typeof import('@node-rs/xxhash');

/** Strings are hashed as their UTF-8 bytes (the binding converts them, faster than Buffer.from). */
export function hashBytes(data: Uint8Array | string): string {
  return xxh3.xxh128(data).toString(16).padStart(32, '0');
}

/**
 * JSON with object keys sorted, so equal values hash equal whatever their key order.
 * The value is copied with its keys in order and handed to JSON.stringify whole: a
 * sorting replacer instead calls back into JS for every value, which made it most of a
 * 100,000-row table's write. The output is byte for byte the replacer's (tables' hashes
 * must not move): the same copies, made in the same order, only without the callbacks.
 */
export function stableStringify(value: unknown): string {
  return JSON.stringify(sortedCopy(value, ''));
}

function sortedCopy(value: unknown, key: string): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value === null || typeof value !== 'object') return value;
  const object = value as Record<string, unknown> & { toJSON?: (key: string) => unknown };
  // JSON.stringify asks toJSON first and sorts what it returns.
  if (typeof object.toJSON === 'function') return sortedCopy(object.toJSON(key), key);
  if (Array.isArray(value)) {
    const items = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) items[i] = sortedCopy(value[i], String(i));
    return items;
  }
  if (value instanceof Uint8Array) return value;
  // Set in sorted order, so keys list as JSON.stringify lists any object's: array indexes first, numerically.
  const sorted: Record<string, unknown> = {};
  for (const k of Object.keys(object).sort()) sorted[k] = sortedCopy(object[k], k);
  return sorted;
}

export function hashValue(value: unknown): string {
  return hashBytes(stableStringify(value) ?? 'undefined');
}

/** Files up to this size are read whole; larger ones are hashed chunk by chunk. */
export const wholeFileLimit = 64 << 20;

/** Reused by every small-file hash: no allocation (and no garbage) per file. */
const smallFileBuffer = Buffer.allocUnsafe(1 << 20);
export const smallFileLimit = smallFileBuffer.length;

/**
 * Hash of a small file (under 1 MiB) of the size it was just stat'ed at, read
 * synchronously into one reused buffer: for thousands of small files this is several
 * times faster than a stream each. Reading stops at that size, sparing a read that
 * would only find the end; a file changed meanwhile has a new stat, so the next run
 * hashes it again.
 */
export function hashSmallFileSync(path: string, size: number): string {
  if (size >= smallFileBuffer.length) return hashBytes(readFileSync(path));
  const fd = openSync(path, 'r');
  let length = 0;
  try {
    for (let n = -1; n !== 0 && length < size; length += n) n = readSync(fd, smallFileBuffer, length, smallFileBuffer.length - length, null);
  } finally {
    closeSync(fd);
  }
  return hashBytes(smallFileBuffer.subarray(0, length));
}

/**
 * Hash of a file of any size: the bytes' hash up to 64 MiB, above that the hash of its
 * 64 MiB chunks' hashes, so a 7 GB checkpoint never has to fit in memory (xxh128 has no
 * streaming form in @node-rs/xxhash). Chunks are read into one buffer of their size.
 */
export async function hashFile(path: string): Promise<string> {
  const file = await open(path, 'r');
  try {
    const size = (await file.stat()).size;
    const buffer = Buffer.allocUnsafe(Math.min(size, wholeFileLimit));
    /** The bytes from `offset` that fit the buffer (fewer at the end of the file). */
    const chunkAt = async (offset: number): Promise<Buffer> => {
      let filled = 0;
      for (let n = -1; n !== 0 && filled < buffer.length; filled += n) n = (await file.read(buffer, filled, buffer.length - filled, offset + filled)).bytesRead;
      return buffer.subarray(0, filled);
    };
    if (size <= wholeFileLimit) return hashBytes(await chunkAt(0));
    const chunkHashes: string[] = [];
    for (let offset = 0; offset < size; offset += wholeFileLimit) {
      const chunk = await chunkAt(offset);
      if (chunk.length === 0) break;
      chunkHashes.push(hashBytes(chunk));
    }
    return hashBytes(chunkHashes.join(''));
  } finally {
    await file.close();
  }
}
