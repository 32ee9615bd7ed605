// Who may read and write through pipeline serve: remote binds, tokens, cross-origin
// writes, paths, read-only.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileSql, projectFiles } from '../../src/file-context.js';
import { startServer, type ServeOptions } from '../../web/server.js';
import { copyProject, pipeline, request } from './helpers.js';

let dir: string;
const servers: { close(): Promise<void> }[] = [];
let imageId: string;

async function serveWith(options: Partial<ServeOptions>) {
  const server = await startServer(dir, { host: '127.0.0.1', port: 0, readOnly: false, ...options });
  servers.push(server);
  return server.url;
}

beforeAll(async () => {
  dir = copyProject();
  const run = await pipeline(dir, ['run', 'score']);
  if (run.code !== 0) throw new Error(run.stderr);
  const files = await fileSql(projectFiles(dir));
  imageId = (await files.sql<{ image_id: string }>(`select image_id from images where status = 'ok' order by image_id limit 1`))[0]!.image_id;
  await files.close();
});
afterAll(async () => {
  for (const server of servers) await server.close();
});

describe('binding', () => {
  it('refuses a host other than loopback without a token or read-only', async () => {
    await expect(startServer(dir, { host: '0.0.0.0', port: 0, readOnly: false })).rejects.toThrow(/--token/);
    const cli = await pipeline(dir, ['serve', '--host', '0.0.0.0', '--port', '0']);
    expect(cli.code).toBe(2);
    expect(cli.stderr).toMatch(/--host: serving on 0\.0\.0\.0 lets other machines write labels: pass --token/);
  });

  it('refuses requests that name another host (DNS rebinding) when it trusts loopback', async () => {
    const url = await serveWith({});
    expect((await request(`${url}api/images`, { headers: { host: 'evil.example' } })).status).toBe(403);
    expect((await request(`${url}api/images`, { headers: { host: `localhost:${new URL(url).port}` } })).status).toBe(200);
  });
});

describe('token', () => {
  it('needs the token on every request, as a bearer header or the cookie a ?token= link sets', async () => {
    const url = await serveWith({ token: 's3cret' });
    for (const path of ['', 'api/images', `api/images/${imageId}/file`, 'static/app.js']) {
      expect((await request(`${url}${path}`)).status, path).toBe(401);
    }
    expect((await request(`${url}api/images`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await request(`${url}api/images`, { headers: { authorization: 'Bearer s3cret' } })).status).toBe(200);
    const link = await request(`${url}?token=s3cret&sort=score`);
    expect(link.status).toBe(302);
    expect(link.headers.location).toBe('/?sort=score');
    const cookie = String(link.headers['set-cookie']);
    expect(cookie).toMatch(/sdloop_token=s3cret/);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect((await request(`${url}api/images`, { headers: { cookie: 'sdloop_token=s3cret' } })).status).toBe(200);
    expect((await request(`${url}?token=wrong`)).status).toBe(401);
  });
});

describe('writes', () => {
  it('come only from the app itself: cross-origin and cross-site writes are refused, bodies are JSON', async () => {
    const url = await serveWith({});
    const origin = url.replace(/\/$/, '');
    const body = { image_id: imageId, verdict: 'reject' };
    const post = (headers: Record<string, string>, payload: unknown = body) => request(`${url}api/labels`, { method: 'POST', headers, body: payload });
    expect((await post({ origin: 'http://evil.example' })).status).toBe(403);
    expect((await post({ 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await post({ origin, 'sec-fetch-site': 'same-site' })).status).toBe(403);
    expect((await post({ origin, 'content-type': 'text/plain' }, JSON.stringify(body))).status).toBe(415);
    expect((await request(`${url}api/sessions/pet`, { method: 'PATCH', headers: { origin: 'http://evil.example' }, body: { note: 'x' } })).status).toBe(403);
    const same = await post({ origin, 'sec-fetch-site': 'same-origin' });
    expect(same.status, same.text).toBe(200);
  });

  it('are refused with --read-only, reads still answer', async () => {
    const url = await serveWith({ readOnly: true });
    expect((await request(`${url}api/labels`, { method: 'POST', body: { image_id: imageId, verdict: 'reject' } })).status).toBe(403);
    expect((await request(`${url}api/sessions/pet`, { method: 'PATCH', body: { note: 'x' } })).status).toBe(403);
    expect((await request(`${url}api/favourites`, { method: 'POST', body: { image_id: imageId, favourite: true } })).status).toBe(403);
    expect((await request(`${url}api/images`)).status).toBe(200);
    expect((await request(`${url}api/config`)).json()).toEqual({ read_only: true });
  });

  it('lets a read-only server listen beyond loopback without a token', async () => {
    const url = await serveWith({ host: '0.0.0.0', readOnly: true });
    expect(url).toMatch(/^http:\/\/0\.0\.0\.0:\d+\/$/);
  });
});

describe('paths', () => {
  it('serve images by id only: traversal and unknown ids are 404', async () => {
    const url = await serveWith({});
    const paths = [
      '..%2f..%2fetc/passwd',
      '..%2f..%2f..%2f..%2fetc%2fpasswd',
      'static/..%2f..%2fpackage.json',
      'static/..%2fserver.ts',
      'api/images/..%2f..%2fetc%2fpasswd/file',
      `api/images/${'0'.repeat(32)}/file`,
      `api/images/${'0'.repeat(32)}/thumb`,
      `api/images/${'0'.repeat(32)}`,
      'api/images/not-an-id',
      'pipeline.yaml',
      'data/state.duckdb',
    ];
    for (const path of paths) {
      const reply = await request(`${url}${path}`);
      expect(reply.status, path).toBe(404);
      expect(reply.text, path).not.toMatch(/root:|stages:/);
    }
    expect((await request(`${url}api/images/${imageId}/file`)).status).toBe(200);
  });

  it('sends headers that keep its pages out of frames and other sites', async () => {
    const url = await serveWith({});
    const reply = await request(url);
    expect(reply.headers['content-security-policy']).toMatch(/frame-ancestors 'none'/);
    expect(reply.headers['x-content-type-options']).toBe('nosniff');
    expect(reply.headers['referrer-policy']).toBe('no-referrer');
  });
});
