// One hash for everything: xxh3-128 as 32 hex chars. Fast enough to hash every file
// and row, and collisions are not a concern for content addressing at this scale.
import { createReadStream } from 'node:fs';
import { xxh3 } from '@node-rs/xxhash';

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

export async function hashFile(path: string): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of createReadStream(path)) chunks.push(chunk as Buffer);
  return hashBytes(Buffer.concat(chunks));
}
