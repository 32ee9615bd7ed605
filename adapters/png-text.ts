// PNG text chunks (tEXt, iTXt, zTXt; PNG spec 11.3.4) and A1111's `parameters` text,
// the "PNG Info" format every Stable Diffusion tool reads. Chunks are length + type +
// data + CRC-32 over type and data; text goes after IHDR so readers that stop at IDAT
// still see it.
import { crc32, deflateSync, inflateSync } from 'node:zlib';

const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export interface PngChunk {
  type: string;
  data: Buffer;
}

export function isPng(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && Buffer.from(bytes.subarray(0, 8)).equals(signature);
}

export function readChunks(png: Uint8Array): PngChunk[] {
  const bytes = Buffer.from(png.buffer, png.byteOffset, png.byteLength);
  if (!isPng(bytes)) throw new Error('not a PNG: the 8-byte PNG signature is missing');
  const chunks: PngChunk[] = [];
  let at = 8;
  while (at + 12 <= bytes.length) {
    const length = bytes.readUInt32BE(at);
    const type = bytes.toString('latin1', at + 4, at + 8);
    const end = at + 12 + length;
    if (end > bytes.length) throw new Error(`PNG chunk ${type} at byte ${at} runs past the end of the file`);
    const expected = bytes.readUInt32BE(at + 8 + length);
    if (crc32(bytes.subarray(at + 4, at + 8 + length)) !== expected) {
      throw new Error(`PNG chunk ${type} at byte ${at} has a bad CRC`);
    }
    chunks.push({ type, data: bytes.subarray(at + 8, at + 8 + length) });
    at = end;
    if (type === 'IEND') break;
  }
  return chunks;
}

/** One chunk as it stands in the file: length, type, data, CRC. */
export function encodeChunk({ type, data }: PngChunk): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

function isLatin1(text: string): boolean {
  return /^[\u0001-\u00ff]*$/.test(text);
}

/** tEXt when the text is Latin-1 (what A1111 writes), else an uncompressed UTF-8 iTXt. */
export function textChunk(keyword: string, text: string): PngChunk {
  const key = Buffer.from(keyword, 'latin1');
  if (isLatin1(text)) return { type: 'tEXt', data: Buffer.concat([key, Buffer.from([0]), Buffer.from(text, 'latin1')]) };
  // keyword \0 compression-flag compression-method language \0 translated-keyword \0 text
  const header = Buffer.concat([key, Buffer.from([0, 0, 0, 0, 0])]);
  return { type: 'iTXt', data: Buffer.concat([header, Buffer.from(text, 'utf8')]) };
}

function decodeTextChunk({ type, data }: PngChunk): [string, string] | null {
  const nul = data.indexOf(0);
  if (nul < 0) return null;
  const keyword = data.toString('latin1', 0, nul);
  if (type === 'tEXt') return [keyword, data.toString('latin1', nul + 1)];
  if (type === 'zTXt') return [keyword, inflateSync(data.subarray(nul + 2)).toString('latin1')];
  if (type === 'iTXt') {
    const compressed = data[nul + 1] === 1;
    const langEnd = data.indexOf(0, nul + 3);
    const translatedEnd = data.indexOf(0, langEnd + 1);
    if (langEnd < 0 || translatedEnd < 0) return null;
    const body = data.subarray(translatedEnd + 1);
    return [keyword, (compressed ? inflateSync(body) : body).toString('utf8')];
  }
  return null;
}

/** Every text chunk as keyword -> text (the first of a repeated keyword wins). */
export function readPngText(png: Uint8Array): Record<string, string> {
  const texts: Record<string, string> = {};
  for (const chunk of readChunks(png)) {
    const entry = decodeTextChunk(chunk);
    if (entry && !(entry[0] in texts)) texts[entry[0]] = entry[1];
  }
  return texts;
}

/** The PNG with these text chunks placed right after IHDR, replacing chunks of the same keywords. */
export function writePngText(png: Uint8Array, texts: Record<string, string>): Buffer {
  const replaced = new Set(Object.keys(texts));
  const kept = readChunks(png).filter((chunk) => {
    const entry = chunk.type === 'IHDR' ? null : decodeTextChunk(chunk);
    return !entry || !replaced.has(entry[0]);
  });
  const added = Object.entries(texts).map(([key, text]) => textChunk(key, text));
  const ordered = [kept[0]!, ...added, ...kept.slice(1)];
  return Buffer.concat([signature, ...ordered.map(encodeChunk)]);
}

/** A zTXt chunk, for tests of readers (A1111 itself never writes one). */
export function zTextChunkBytes(keyword: string, text: string): PngChunk {
  const data = Buffer.concat([Buffer.from(keyword, 'latin1'), Buffer.from([0, 0]), deflateSync(Buffer.from(text, 'latin1'))]);
  return { type: 'zTXt', data };
}

/** Insert raw chunks after IHDR as given (tests of readers use it for zTXt). */
export function insertChunks(png: Uint8Array, added: PngChunk[]): Buffer {
  const chunks = readChunks(png);
  return Buffer.concat([signature, ...[chunks[0]!, ...added, ...chunks.slice(1)].map(encodeChunk)]);
}

/** A1111's infotext: prompt, negative prompt and the `Key: value, ...` settings line. */
export interface GenerationParameters {
  prompt: string;
  negativePrompt: string;
  settings: Record<string, string>;
}

const settingPattern = /\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)/g;

/**
 * A1111's `Lora hashes` value: `name: hash` per LoRA, in prompt order, the name as the
 * prompt wrote it with `:` and `,` removed (so the pairs stay parseable); the hash is the
 * 12 hex A1111 takes from sshs_model_hash (safetensors.ts, a1111LoraShortHash).
 */
export function formatLoraHashes(loras: { name: string; shortHash: string }[]): string {
  // A1111 keeps them in a dict: a name written twice appears once.
  const byName = new Map(loras.map((l) => [l.name.replace(/[:,]/g, ''), l.shortHash]));
  return [...byName].map(([name, hash]) => `${name}: ${hash}`).join(', ');
}

/** A1111's quote(): JSON-quote a value that holds `,`, `:` or a newline. */
export function quoteSetting(value: string): string {
  return /[,:\n]/.test(value) ? JSON.stringify(value) : value;
}

export function formatParameters({ prompt, negativePrompt, settings }: GenerationParameters): string {
  const line = Object.entries(settings)
    .map(([key, value]) => `${key}: ${quoteSetting(value)}`)
    .join(', ');
  return [prompt, ...(negativePrompt ? [`Negative prompt: ${negativePrompt}`] : []), line].join('\n');
}

function unquote(value: string): string {
  if (!(value.startsWith('"') && value.endsWith('"'))) return value;
  try {
    return JSON.parse(value) as string;
  } catch {
    return value;
  }
}

/** The reading A1111's PNG Info does: the last line is the settings line when 3+ pairs match. */
export function parseParameters(text: string): GenerationParameters {
  const lines = text.trim().split('\n');
  let last = lines.at(-1) ?? '';
  if ([...last.matchAll(settingPattern)].length < 3) last = '';
  else lines.pop();
  let prompt = '';
  let negativePrompt = '';
  let inNegative = false;
  for (let line of lines) {
    line = line.trim();
    if (line.startsWith('Negative prompt:')) {
      inNegative = true;
      line = line.slice('Negative prompt:'.length).trim();
    }
    if (inNegative) negativePrompt += (negativePrompt ? '\n' : '') + line;
    else prompt += (prompt ? '\n' : '') + line;
  }
  const settings: Record<string, string> = {};
  for (const m of last.matchAll(settingPattern)) {
    if (m[1]) settings[m[1].trim()] = unquote(m[2]!.trim());
  }
  return { prompt, negativePrompt, settings };
}

export interface PngHead {
  width: number;
  height: number;
  /** IHDR colour type: 2 RGB, 6 RGBA, 0 grey, 4 grey with alpha, 3 palette */
  colorType: number;
  /** text chunks before the first IDAT, where A1111 and PIL write them */
  texts: Record<string, string>;
}

/**
 * Width and height from the IHDR chunk, which the PNG format puts first: 24 bytes are
 * enough, so a server's image can be measured before it is decoded.
 */
export function pngSize(head: Uint8Array): { width: number; height: number } {
  const bytes = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  if (!isPng(bytes)) throw new Error('not a PNG: the 8-byte PNG signature is missing');
  if (bytes.length < 24 || bytes.toString('latin1', 12, 16) !== 'IHDR') throw new Error('the first PNG chunk is not IHDR');
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

const iend = Buffer.from([0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82]);

/** The chunks before IDAT, or null when `head` ends before reaching it. */
function headChunks(head: Buffer): PngChunk[] | null {
  if (!isPng(head)) throw new Error('not a PNG: the 8-byte PNG signature is missing');
  const chunks: PngChunk[] = [];
  for (let at = 8; at + 8 <= head.length; ) {
    const length = head.readUInt32BE(at);
    const type = head.toString('latin1', at + 4, at + 8);
    if (type === 'IDAT') return chunks;
    const end = at + 12 + length;
    if (end > head.length) return null;
    if (crc32(head.subarray(at + 4, at + 8 + length)) !== head.readUInt32BE(at + 8 + length)) {
      throw new Error(`PNG chunk ${type} at byte ${at} has a bad CRC`);
    }
    chunks.push({ type, data: head.subarray(at + 8, at + 8 + length) });
    at = end;
  }
  return null;
}

function describeHead(chunks: PngChunk[]): PngHead {
  const ihdr = chunks[0];
  if (ihdr?.type !== 'IHDR' || ihdr.data.length < 8) throw new Error('the first PNG chunk is not IHDR');
  const texts: Record<string, string> = {};
  for (const chunk of chunks) {
    const entry = decodeTextChunk(chunk);
    if (entry && !(entry[0] in texts)) texts[entry[0]] = entry[1];
  }
  return { width: ihdr.data.readUInt32BE(0), height: ihdr.data.readUInt32BE(4), colorType: ihdr.data[9] ?? 0, texts };
}

/**
 * Size, colour type and text chunks (those before the first IDAT) of a whole PNG file in
 * memory: ingest reads each file once for its hash and its head. A file that is not a PNG,
 * has a bad chunk before IDAT or does not end in IEND (a truncated download or render) is
 * an error naming what is wrong.
 */
export function parsePngHead(bytes: Buffer): PngHead {
  if (bytes.length < 8 + 25 + 12 || !bytes.subarray(bytes.length - 12).equals(iend)) throw new Error('not a complete PNG: it does not end with an IEND chunk');
  const chunks = headChunks(bytes);
  if (!chunks) throw new Error('no IDAT chunk: the PNG holds no image data');
  return describeHead(chunks);
}
