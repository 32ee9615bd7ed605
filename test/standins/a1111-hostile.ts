// What a hostile or broken A1111-compatible server sends, for the stand-in's faults: an
// enormous PNG (valid, 16000x16000, cheap to hold because black deflates well) and a
// body that streams on without end.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createDeflate } from 'node:zlib';
import { encodeChunk } from '../../adapters/png-text.js';

/** A valid PNG of `size` x `size` black pixels, deflated as it is built (a 16000 px one is 0.75 MB, not 768). */
async function blackPngStreamed(size: number): Promise<Buffer> {
  const row = Buffer.alloc(1 + size * 3);
  const deflate = createDeflate();
  const parts: Buffer[] = [];
  deflate.on('data', (c: Buffer) => parts.push(c));
  const ended = new Promise((resolve) => deflate.on('end', resolve));
  for (let y = 0; y < size; y++) if (!deflate.write(row)) await new Promise((resolve) => deflate.once('drain', resolve));
  deflate.end();
  await ended;
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const chunk = (type: string, data: Buffer) => encodeChunk({ type, data });
  return Buffer.concat([sig, chunk('IHDR', ihdr), chunk('IDAT', Buffer.concat(parts)), chunk('IEND', Buffer.alloc(0))]);
}

let giant: Promise<Buffer> | undefined;

/** The 16000x16000 PNG a hostile server sends, built once per test process. */
export const giantPng = () => (giant ??= blackPngStreamed(16000));

/** A body that goes on until `total` bytes or until the client closes the connection. */
function streamHuge(res: ServerResponse, total: number, sent: (n: number) => void): void {
  const chunk = Buffer.alloc(1 << 20, 0x41);
  res.writeHead(200, { 'content-type': 'application/json' });
  res.write('{"images": ["');
  let written = 0;
  const pump = () => {
    while (written < total && !res.destroyed) {
      written += chunk.length;
      sent(chunk.length);
      if (!res.write(chunk)) return void res.once('drain', pump);
    }
    if (!res.destroyed) res.end('"]}');
  };
  res.on('close', () => (written = total));
  pump();
}

/**
 * The faults answered without rendering: `huge` (a body streamed until the client hangs
 * up), `redirect` (a 307 elsewhere, the path kept), `slowbody` (half a JSON body, then
 * silence). False for any other fault.
 */
export function answeredHostile(
  fault: string,
  req: IncomingMessage,
  res: ServerResponse,
  o: { redirectTo?: string; hugeBytes?: number; sent(n: number): void },
): boolean {
  if (fault === 'huge') streamHuge(res, o.hugeBytes ?? 1.5 * 1024 ** 3, o.sent);
  else if (fault === 'redirect') {
    res.writeHead(307, { location: new URL(req.url ?? '/', o.redirectTo ?? 'http://127.0.0.1:9').href, 'content-length': 0 });
    res.end();
  } else if (fault === 'slowbody') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"images": ["iVBORw0KGgo'); // ...and nothing more, until the client gives up
  } else return false;
  return true;
}
