// One hash for everything: xxh3-128 as 32 hex chars. Fast enough to hash every file
// and row, and collisions are not a concern for content addressing at this scale.
import { createReadStream, readFileSync } from 'node:fs';
import { requireCommonJs } from './commonjs.js';

const { xxh3 } = requireCommonJs('@node-rs/xxhash') as typeof import('@node-rs/xxhash');

export function hashBytes(data: Uint8Array | string): string {
  return xxh3.xxh128(typeof data === 'string' ? Buffer.from(data) : data).toString(16).padStart(32, '0');
}

/** JSON with object keys sorted, so equal values hash equal whatever their key order. */
export function stableStringify(value: unknown): string {
  return JSON.stringify(value, (_key, v) => {
    if (v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array)) {
      const sorted: Record<string, unknown> = {};
      for (const k of Object.keys(v).sort()) sorted[k] = v[k];
      return sorted;
    }
    if (typeof v === 'bigint') return v.toString();
    return v;
  });
}

export function hashValue(value: unknown): string {
  return hashBytes(stableStringify(value) ?? 'undefined');
}

/** Files up to this size are read whole; larger ones are hashed chunk by chunk. */
const wholeFileLimit = 64 << 20;

/**
 * Hash of a small file, read synchronously: for thousands of small files one blocking
 * read each is several times faster than a stream each.
 */
export function hashSmallFileSync(path: string): string {
  return hashBytes(readFileSync(path));
}

/**
 * Hash of a file of any size: the bytes' hash up to 64 MiB, above that the hash of its
 * 64 MiB chunks' hashes, so a 7 GB checkpoint never has to fit in memory (xxh128 has no
 * streaming form in @node-rs/xxhash).
 */
export async function hashFile(path: string): Promise<string> {
  const chunkHashes: string[] = [];
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const flushChunk = () => {
    const bytes = Buffer.concat(pending, pendingBytes);
    chunkHashes.push(hashBytes(bytes.subarray(0, wholeFileLimit)));
    pending = bytes.length > wholeFileLimit ? [bytes.subarray(wholeFileLimit)] : [];
    pendingBytes = bytes.length - Math.min(bytes.length, wholeFileLimit);
  };
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    pending.push(chunk as Buffer);
    pendingBytes += (chunk as Buffer).length;
    if (pendingBytes > wholeFileLimit) flushChunk();
  }
  if (chunkHashes.length === 0) return hashBytes(Buffer.concat(pending, pendingBytes));
  if (pendingBytes > 0) flushChunk();
  return hashBytes(chunkHashes.join(''));
}
