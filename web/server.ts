// `pipeline serve`: the review app. Routes here, queries in web/api, the front end in
// web/static. Reads go to the Parquet tables and journals (never the state database),
// writes to the journals, so it answers while a `pipeline run` holds the state.
import { createReadStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Hono, type Context } from 'hono';
import { serve } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import type { z } from 'zod';
import { fileSql, projectFiles } from '../src/file-context.js';
import { Catalog } from './catalog.js';
import { Thumbnails } from './thumbs.js';
import { staticFile } from './static.js';
import { checkBind, hostCheck, securityHeaders, tokenCheck, writeCheck, type Access } from './security.js';
import { facets, imageDetail, imagePath, listImages } from './api/images.js';
import { recordFavourite, recordLabel, recordTag, ReviewError } from './api/reviews.js';
import { listSessions, patchSession } from './api/sessions.js';
import { valueSeedGrid } from './api/grid.js';
import { favouriteRequest, gridQuery, imageId, imageQuery, labelRequest, sessionPatch, sessionQuery, tagRequest } from '../schemas/web.js';

export interface ServeOptions extends Access {
  port: number;
}

/** The gallery query's repeatable keys. */
const galleryLists = new Set(['axis', 'value', 'verdict', 'session', 'model', 'lora', 'theme', 'tag']);

/** The query string as the schema wants it: lists for repeatable keys, the first value otherwise. */
function queryOf<S extends z.ZodType>(c: Context, schema: S, arrays = new Set<string>()) {
  const raw = c.req.queries();
  const shaped = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, arrays.has(k) ? v : v[0]]));
  return schema.safeParse(shaped) as z.ZodSafeParseResult<z.infer<S>>;
}

/** Answer with what `work` returns, or the status a ReviewError names. */
async function answer(c: Context, work: () => Promise<unknown>) {
  try {
    return c.json(await work());
  } catch (error) {
    if (error instanceof ReviewError) return c.json({ error: error.message }, error.status);
    throw error;
  }
}

async function bodyOf<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S> | Response> {
  const parsed = schema.safeParse(await c.req.json().catch(() => undefined));
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  return c.json({ error: `${issue?.path.join('.') || 'body'}: ${issue?.message}` }, 400);
}

function imageRoutes(app: Hono, catalog: Catalog, thumbs: Thumbnails) {
  app.get('/api/images', async (c) => {
    const q = queryOf(c, imageQuery, galleryLists);
    if (!q.success) return c.json({ error: q.error.issues[0]?.message }, 400);
    return c.json(await listImages(catalog, q.data));
  });
  app.get('/api/facets', async (c) => c.json(await facets(catalog)));
  app.get('/api/images/:id', async (c) => {
    const q = queryOf(c, imageQuery, galleryLists);
    const id = imageId.safeParse(c.req.param('id'));
    if (!id.success) return c.json({ error: 'no such image' }, 404);
    if (!q.success) return c.json({ error: q.error.issues[0]?.message }, 400);
    const detail = await imageDetail(catalog, q.data, id.data);
    return detail ? c.json(detail) : c.json({ error: 'no such image' }, 404);
  });
  app.get('/api/images/:id/grid', async (c) => {
    const id = imageId.safeParse(c.req.param('id'));
    if (!id.success) return c.json({ error: 'no such image' }, 404);
    const q = queryOf(c, gridQuery);
    if (!q.success) return c.json({ error: q.error.issues[0]?.message }, 400);
    return answer(c, () => valueSeedGrid(catalog, id.data, q.data.axis, q.data.seeds));
  });
  const sendFile = (c: Context, path: string, type: string) => {
    c.header('Content-Type', type);
    c.header('Cache-Control', 'private, max-age=31536000, immutable');
    return c.body(Readable.toWeb(createReadStream(path)) as ReadableStream);
  };
  // The tables may name a file that is gone (moved or deleted by hand): that image has no picture.
  const fileOf = async (c: Context) => {
    const id = imageId.safeParse(c.req.param('id'));
    const path = id.success ? await imagePath(catalog, id.data) : null;
    return path && existsSync(path) ? { id: id.data!, path } : null;
  };
  app.get('/api/images/:id/file', async (c) => {
    const found = await fileOf(c);
    return found ? sendFile(c, found.path, 'image/png') : c.json({ error: 'no such image' }, 404);
  });
  app.get('/api/images/:id/thumb', async (c) => {
    const found = await fileOf(c);
    return found ? sendFile(c, await thumbs.get(found.id, found.path), 'image/webp') : c.json({ error: 'no such image' }, 404);
  });
}

function reviewRoutes(app: Hono, catalog: Catalog, dataDir: string) {
  app.post('/api/labels', async (c) => {
    const body = await bodyOf(c, labelRequest);
    return body instanceof Response ? body : answer(c, () => recordLabel(catalog, dataDir, body));
  });
  app.post('/api/favourites', async (c) => {
    const body = await bodyOf(c, favouriteRequest);
    return body instanceof Response ? body : answer(c, () => recordFavourite(catalog, dataDir, body.image_id, body.favourite));
  });
  app.post('/api/tags', async (c) => {
    const body = await bodyOf(c, tagRequest);
    return body instanceof Response ? body : answer(c, () => recordTag(catalog, dataDir, body));
  });
  app.get('/api/sessions', async (c) => {
    const q = queryOf(c, sessionQuery);
    if (!q.success) return c.json({ error: q.error.issues[0]?.message }, 400);
    return c.json(await listSessions(catalog, dataDir, q.data));
  });
  app.patch('/api/sessions/:name', async (c) => {
    const body = await bodyOf(c, sessionPatch);
    return body instanceof Response ? body : answer(c, () => patchSession(catalog, dataDir, c.req.param('name'), body));
  });
}

export function createApp(catalog: Catalog, dataDir: string, access: Access): Hono {
  const app = new Hono();
  app.use('*', securityHeaders(), hostCheck(access), tokenCheck(access), writeCheck(access));
  app.use('/api/*', async (c, next) => {
    if (!(await catalog.ready())) return c.json({ error: 'nothing to show yet: run `pipeline run` first' }, 503);
    return next();
  });
  app.get('/api/config', (c) => c.json({ read_only: access.readOnly }));
  imageRoutes(app, catalog, new Thumbnails(join(dataDir, 'thumbs')));
  reviewRoutes(app, catalog, dataDir);
  app.get('/', async (c) => {
    const file = await staticFile('index.html');
    return c.body(file!.body, 200, { 'Content-Type': file!.type });
  });
  app.get('/static/:name', async (c) => {
    const file = await staticFile(c.req.param('name'));
    return file ? c.body(file.body, 200, { 'Content-Type': file.type, 'Cache-Control': 'no-cache' }) : c.json({ error: 'not found' }, 404);
  });
  // browsers ask for it on every page; there is none
  app.get('/favicon.ico', (c) => c.body(null, 204));
  app.notFound((c) => c.json({ error: 'not found' }, 404));
  app.onError((error, c) => {
    process.stderr.write(`serve: ${c.req.method} ${c.req.path}: ${error.stack ?? error.message}\n`);
    return c.json({ error: error.message }, 500);
  });
  return app;
}

/** Listen and resolve with the URL people open (port 0 picks a free port); close() stops it. */
export async function startServer(projectDir: string, options: ServeOptions): Promise<{ url: string; close(): Promise<void> }> {
  checkBind(options);
  const project = projectFiles(projectDir);
  const files = await fileSql(project);
  const app = createApp(await Catalog.open(files, project), project.dataDir, options);
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, port: options.port, hostname: options.host }, (info: AddressInfo) => {
      const host = info.family === 'IPv6' ? `[${info.address}]` : info.address;
      resolve({
        url: `http://${host}:${info.port}/`,
        close: () => new Promise<void>((done) => server.close(() => done())).then(() => files.close()),
      });
    });
    server.on('error', (error) => {
      void files.close();
      reject(error);
    });
  });
}
