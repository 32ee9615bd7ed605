// The A1111 client against a hostile server: every answer it takes is bounded in bytes,
// pixels and time, and it never follows a redirect with the prompt body.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createBackend, generateParams } from '../../stages/generate/backend.js';
import { startA1111StandIn, type A1111StandIn, type Fault } from '../standins/a1111-server.js';
import { promptRow } from '../generate/rows.js';

const servers: A1111StandIn[] = [];
const others: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  await Promise.all(others.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

async function renderAgainst(fault: (n: number) => Fault, over: Record<string, unknown> = {}, standIn: Parameters<typeof startA1111StandIn>[0] = {}) {
  const server = await startA1111StandIn({ fault, ...standIn });
  servers.push(server);
  const params = generateParams.parse({ backend: 'a1111', endpoints: [server.url], backoff_ms: 10, retries: 2, ...over });
  const backend = await createBackend(params, { projectDir: '.' });
  try {
    return { result: await backend.render(promptRow(3)), server };
  } finally {
    await backend.close();
  }
}

/** A second server on another port that only counts who reached it. */
async function recordingServer(): Promise<{ url: string; hits: string[] }> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    res.end('{}');
  });
  others.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits };
}

describe('a bounded A1111 client', () => {
  it('stops reading a body past max_response_mb (default 64 MB) and does not retry it', async () => {
    const { result, server } = await renderAgainst(() => 'huge');
    expect(result.status).toBe('failed');
    expect(result.error).toMatch(/the response is more than 64 MB, over the 64 MB limit \(generate\.max_response_mb\).*after 1 attempt\b/);
    // The server was cut off near the cap: what the sockets buffer, not the 1.5 GB it had.
    expect(server.hugeBytesSent()).toBeLessThan(128 * 1024 * 1024);
    expect(server.txt2img()).toHaveLength(1);
  });

  it('honours a smaller max_response_mb', async () => {
    const { result, server } = await renderAgainst(() => 'huge', { max_response_mb: 2 });
    expect(result.error).toMatch(/over the 2 MB limit/);
    expect(server.hugeBytesSent()).toBeLessThan(64 * 1024 * 1024);
  });

  it('refuses an image over max_image_megapixels, measured from its PNG header, without retrying', async () => {
    const { result, server } = await renderAgainst(() => 'giant');
    expect(result.status).toBe('failed');
    expect(result.png).toBeNull();
    expect(result.error).toMatch(/image 0 is 16000x16000 \(256 megapixels\), over the 64 megapixels limit \(generate\.max_image_megapixels\)/);
    expect(server.txt2img()).toHaveLength(1);
  });

  it('records the size the server really rendered, not the size asked for', async () => {
    const { result, server } = await renderAgainst(() => 'ok', {}, { imageSize: 48 });
    expect(server.txt2img()[0]).toMatchObject({ width: 64, height: 96 });
    expect(result).toMatchObject({ status: 'ok', width: 48, height: 48 });
  });

  it('does not follow a redirect: the error names where it pointed, and that host is never reached', async () => {
    const elsewhere = await recordingServer();
    const { result, server } = await renderAgainst(() => 'redirect', {}, { redirectTo: elsewhere.url });
    expect(result.status).toBe('failed');
    expect(result.error).toContain(`HTTP 307 redirect to ${elsewhere.url}/sdapi/v1/txt2img; redirects are not followed`);
    expect(elsewhere.hits).toEqual([]);
    expect(server.txt2img()).toHaveLength(1);
  });

  it('names a body that stalls as a timeout and retries it like other transient faults', async () => {
    const once = await renderAgainst((n) => (n === 0 ? 'slowbody' : 'ok'), { timeout_s: 0.5 });
    expect(once.result.status).toBe('ok');
    expect(once.server.txt2img()).toHaveLength(2);
    const always = await renderAgainst(() => 'slowbody', { timeout_s: 0.3, retries: 1 });
    expect(always.result.error).toMatch(/A1111 at http:\/\/127\.0\.0\.1:\d+ did not answer \/sdapi\/v1\/txt2img within 0\.3 s \(after 2 attempts\)/);
    expect(always.server.txt2img()).toHaveLength(2);
  });
});
