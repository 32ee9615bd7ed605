// The front end's files: a fixed list, read from web/static beside this module when it
// runs from source, or from the repository's web/static when it runs from dist/ (tsc
// copies no assets). No request path ever reaches the file system.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

const files: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'api.js': 'text/javascript; charset=utf-8',
  'gallery.js': 'text/javascript; charset=utf-8',
  'viewer.js': 'text/javascript; charset=utf-8',
  'compare.js': 'text/javascript; charset=utf-8',
  'zone.js': 'text/javascript; charset=utf-8',
  'tags.js': 'text/javascript; charset=utf-8',
  'sessions.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
};

export function staticDir(): string {
  const beside = fileURLToPath(new URL('./static/', import.meta.url));
  return existsSync(join(beside, 'index.html')) ? beside : fileURLToPath(new URL('../../web/static/', import.meta.url));
}

export async function staticFile(name: string): Promise<{ body: string; type: string } | null> {
  const type = files[name];
  if (!type) return null;
  return { body: await readFile(join(staticDir(), name), 'utf8'), type };
}
