// The .safetensors format (huggingface/safetensors): an 8-byte little-endian header
// length N, N bytes of JSON mapping tensor names to {dtype, shape, data_offsets} plus
// an optional `__metadata__` of string values, then the raw little-endian tensor bytes.
// Offsets are relative to the end of the header. kohya's sd-scripts keeps its training
// facts (`ss_*`) in `__metadata__`, which is how A1111 and sdloop identify a LoRA.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { access, open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../src/atomic.js';

const dtypeSizes = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
  F8_E4M3: 1, F8_E5M2: 1, U16: 2, U32: 4, U64: 8,
} as const;
export type Dtype = keyof typeof dtypeSizes;

const tensorEntry = z.object({
  dtype: z.enum(Object.keys(dtypeSizes) as [Dtype, ...Dtype[]]),
  shape: z.array(z.number().int().nonnegative()),
  data_offsets: z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()]),
});
export type TensorEntry = z.infer<typeof tensorEntry>;

const metadataSchema = z.record(z.string(), z.string());

export interface SafetensorsHeader {
  metadata: Record<string, string>;
  tensors: Record<string, TensorEntry>;
  /** N, the JSON header's length in bytes; tensor data starts at byte 8 + N */
  headerSize: number;
}

export interface TensorData {
  dtype: 'F32' | 'F16';
  shape: number[];
  /** F16 values as their raw IEEE half bits */
  data: Float32Array | Uint16Array;
}

/** A header larger than this is not a safetensors file (the reference reader caps it at 100 MB). */
const maxHeaderSize = 100_000_000;

export class SafetensorsError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: not a valid .safetensors file: ${message}`);
    this.name = 'SafetensorsError';
  }
}

/** Read only the header: a multi-gigabyte model costs one small read. */
export async function readSafetensorsHeader(path: string): Promise<SafetensorsHeader> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    if (size < 8) throw new SafetensorsError(path, `expected at least 8 bytes (header length), found ${size}`);
    const lengthBytes = Buffer.alloc(8);
    await handle.read(lengthBytes, 0, 8, 0);
    const headerSize = Number(lengthBytes.readBigUInt64LE(0));
    if (headerSize < 2 || headerSize > maxHeaderSize || 8 + headerSize > size) {
      throw new SafetensorsError(path, `header length ${headerSize} does not fit a file of ${size} bytes`);
    }
    const headerBytes = Buffer.alloc(headerSize);
    await handle.read(headerBytes, 0, headerSize, 8);
    return { ...parseHeader(path, headerBytes.toString('utf8')), headerSize };
  } finally {
    await handle.close();
  }
}

function parseHeader(path: string, text: string): Omit<SafetensorsHeader, 'headerSize'> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new SafetensorsError(path, `header is not JSON (${(error as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new SafetensorsError(path, 'expected the header to be a JSON object');
  }
  const { __metadata__: rawMetadata, ...rawTensors } = json as Record<string, unknown>;
  const metadata = metadataSchema.safeParse(rawMetadata ?? {});
  if (!metadata.success) throw new SafetensorsError(path, 'expected __metadata__ to map names to strings');
  const tensors: Record<string, TensorEntry> = {};
  for (const [name, raw] of Object.entries(rawTensors)) {
    const entry = tensorEntry.safeParse(raw);
    if (!entry.success) {
      throw new SafetensorsError(path, `tensor ${JSON.stringify(name)}: expected {dtype, shape: int[], data_offsets: [begin, end]}`);
    }
    tensors[name] = entry.data;
  }
  return { metadata: metadata.data, tensors };
}

function byteLength(entry: { dtype: Dtype; shape: number[] }): number {
  return entry.shape.reduce((a, b) => a * b, 1) * dtypeSizes[entry.dtype];
}

/** Widest dtype first, so every tensor starts on a multiple of its element size. */
function layoutOrder(tensors: Record<string, TensorData>): string[] {
  return Object.keys(tensors).sort(
    (a, b) => dtypeSizes[tensors[b]!.dtype] - dtypeSizes[tensors[a]!.dtype] || (a < b ? -1 : a > b ? 1 : 0),
  );
}

/** Same tensors and metadata give the same bytes (stable order, no timestamps added). */
export function encodeSafetensors(tensors: Record<string, TensorData>, metadata: Record<string, string> = {}): Buffer {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) {
    header.__metadata__ = Object.fromEntries(Object.keys(metadata).sort().map((k) => [k, metadata[k]]));
  }
  const parts: Buffer[] = [];
  let offset = 0;
  for (const name of layoutOrder(tensors)) {
    const tensor = tensors[name]!;
    const expected = byteLength(tensor);
    const bytes = Buffer.from(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
    if (bytes.length !== expected) {
      throw new Error(`tensor ${name}: shape [${tensor.shape}] needs ${expected} bytes of ${tensor.dtype}, got ${bytes.length}`);
    }
    if ((tensor.dtype === 'F32') !== tensor.data instanceof Float32Array) {
      throw new Error(`tensor ${name}: ${tensor.dtype} data must be a ${tensor.dtype === 'F32' ? 'Float32Array' : 'Uint16Array'}`);
    }
    header[name] = { dtype: tensor.dtype, shape: tensor.shape, data_offsets: [offset, offset + expected] };
    // Typed arrays are little-endian on every platform Node ships for, as the format requires.
    parts.push(bytes);
    offset += expected;
  }
  let json = JSON.stringify(header);
  // Pad with spaces so the data starts on an 8-byte boundary, as the reference writer does.
  const jsonLength = Buffer.byteLength(json);
  json += ' '.repeat((8 - (jsonLength % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const lengthBytes = Buffer.alloc(8);
  lengthBytes.writeBigUInt64LE(BigInt(headerBytes.length));
  return Buffer.concat([lengthBytes, headerBytes, ...parts]);
}

export async function writeSafetensors(
  path: string,
  tensors: Record<string, TensorData>,
  metadata: Record<string, string> = {},
): Promise<void> {
  await writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

/**
 * sd-scripts' `sshs_model_hash` (sd-webui-additional-networks' hash, which A1111 also
 * computes for a LoRA that lacks one): SHA-256 of everything after the 8-byte length and
 * the JSON header, so metadata edits never change it.
 */
export function addnetHash(file: Buffer): string {
  const headerSize = Number(file.readBigUInt64LE(0));
  return createHash('sha256').update(file.subarray(8 + headerSize)).digest('hex');
}

/** `sshs_legacy_hash`: the first 8 hex of SHA-256 over the 64 KiB at byte 0x100000 (of nothing, in a smaller file). */
export function addnetLegacyHash(file: Buffer): string {
  return createHash('sha256').update(file.subarray(0x100000, 0x110000)).digest('hex').slice(0, 8);
}

/**
 * Both hashes as sd-scripts precalculates them when it saves a LoRA
 * (library/train_util.py, precalculate_safetensors_hashes): over the file written with
 * only the `ss_*` metadata, so metadata added later (its own sshs_* keys included)
 * changes neither.
 */
export function precalculatedHashes(tensors: Record<string, TensorData>, metadata: Record<string, string>): { sshs_model_hash: string; sshs_legacy_hash: string } {
  const training = Object.fromEntries(Object.entries(metadata).filter(([key]) => key.startsWith('ss_')));
  const file = encodeSafetensors(tensors, training);
  return { sshs_model_hash: addnetHash(file), sshs_legacy_hash: addnetLegacyHash(file) };
}

/** addnetHash of a file on disk, streamed: a LoRA can be hundreds of megabytes. */
export async function addnetHashOfFile(path: string): Promise<string> {
  const { headerSize } = await readSafetensorsHeader(path);
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { start: 8 + headerSize })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * What A1111 writes for a LoRA in `Lora hashes` (extensions-builtin/Lora, NetworkOnDisk):
 * the first 12 hex of its `sshs_model_hash` when the file carries one, else of the same
 * hash computed from the file.
 */
export async function a1111LoraShortHash(path: string): Promise<string> {
  const { metadata } = await readSafetensorsHeader(path);
  return (metadata.sshs_model_hash || (await addnetHashOfFile(path))).slice(0, 12);
}

/** One F32 tensor's values (for tests and the synthetic backend; small files only). */
export async function readF32Tensor(path: string, name: string): Promise<Float32Array> {
  const header = await readSafetensorsHeader(path);
  const entry = header.tensors[name];
  if (!entry) throw new SafetensorsError(path, `no tensor named ${JSON.stringify(name)}`);
  if (entry.dtype !== 'F32') throw new SafetensorsError(path, `tensor ${name} is ${entry.dtype}, expected F32`);
  const [begin, end] = entry.data_offsets;
  const bytes = Buffer.alloc(end - begin);
  const handle = await open(path, 'r');
  try {
    await handle.read(bytes, 0, bytes.length, 8 + header.headerSize + begin);
  } finally {
    await handle.close();
  }
  const values = new Float32Array(bytes.length / 4);
  for (let i = 0; i < values.length; i++) values[i] = bytes.readFloatLE(i * 4);
  return values;
}

/** Metadata keys every sd-scripts LoRA carries; without them A1111 and the loop cannot tell what it is. */
export const requiredLoraMetadata = ['ss_output_name', 'ss_network_module', 'ss_network_dim', 'ss_network_alpha'] as const;

/** Everything wrong with a trained LoRA file, as sentences; empty when it is usable. */
export async function validateLora(path: string): Promise<string[]> {
  let header: SafetensorsHeader;
  try {
    header = await readSafetensorsHeader(path);
  } catch (error) {
    return [error instanceof SafetensorsError ? error.message : `${path}: cannot read (${(error as Error).message})`];
  }
  const problems: string[] = [];
  const dataSize = (await stat(path)).size - 8 - header.headerSize;
  const names = Object.keys(header.tensors);
  if (names.length === 0) problems.push('expected at least one tensor, found none');
  const byBegin = names.map((name) => ({ name, ...header.tensors[name]! })).sort((a, b) => a.data_offsets[0] - b.data_offsets[0]);
  let expectedBegin = 0;
  for (const tensor of byBegin) {
    const [begin, end] = tensor.data_offsets;
    if (begin !== expectedBegin) problems.push(`tensor ${tensor.name}: data starts at ${begin}, expected ${expectedBegin} (offsets must be contiguous)`);
    if (end - begin !== byteLength(tensor)) {
      problems.push(`tensor ${tensor.name}: shape [${tensor.shape}] of ${tensor.dtype} needs ${byteLength(tensor)} bytes, offsets give ${end - begin}`);
    }
    if (end > dataSize) problems.push(`tensor ${tensor.name}: data ends at ${end}, past the ${dataSize} data bytes in the file`);
    expectedBegin = Math.max(expectedBegin, end);
  }
  if (names.length > 0 && expectedBegin !== dataSize) {
    problems.push(`tensors cover ${expectedBegin} data bytes but the file holds ${dataSize}`);
  }
  if (names.length > 0 && !names.some((n) => n.includes('lora_up') || n.includes('lora_down'))) {
    problems.push('expected lora_up / lora_down tensors, found none');
  }
  for (const key of requiredLoraMetadata) {
    if (!(key in header.metadata)) problems.push(`metadata ${key} missing (sd-scripts writes it for every LoRA)`);
  }
  return problems.map((p) => `${path}: ${p}`);
}

/** Find NAME.safetensors in the folders, in order; a clear error naming every place tried. */
export async function findLoraFile(name: string, dirs: string[]): Promise<string> {
  const tried = dirs.map((d) => join(d, `${name}.safetensors`));
  for (const path of tried) if (await access(path).then(() => true, () => false)) return path;
  throw new Error(`LoRA ${JSON.stringify(name)} not found: looked for ${tried.join(', ')} (generate.lora_dirs)`);
}
