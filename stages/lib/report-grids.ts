// Best and worst images per variation value, as small inline thumbnails, so the report
// shows what "fails" looks like without linking to files the reader may not have.
import { access } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import pLimit from 'p-limit';
import type { Row } from '../../src/stage.js';

export interface GridImage {
  imageId: string;
  pTarget: number;
  matched: boolean;
  filename: string;
  /** data: URI, or null when neither the session copy nor the store copy could be read */
  thumbnail: string | null;
}

export interface Grid {
  axis: string;
  value: string;
  best: GridImage[];
  worst: GridImage[];
}

/** The `per` highest and `per` lowest scored images of each axis value; an image is in one list only. */
export const gridSql = `
WITH ranked AS (
  SELECT s.axis, s.value, s.p_target, s.matched, i.image_id, i.path, i.session_dir, i.filename,
         row_number() OVER (PARTITION BY s.axis, s.value ORDER BY s.p_target DESC, i.image_id) AS best,
         row_number() OVER (PARTITION BY s.axis, s.value ORDER BY s.p_target ASC, i.image_id DESC) AS worst
  FROM scores s
  JOIN images i ON i.image_id = s.image_id AND i.prompt_id = s.prompt_id
  WHERE i.image_id <> '' AND i.status IN ('ok', 'blank')
)
SELECT axis, value, p_target, matched, image_id, path, session_dir, filename, best <= $per AS is_best
FROM ranked
WHERE best <= $per OR worst <= $per
ORDER BY axis, value, p_target DESC, image_id`;

async function readable(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** The store copy first (it survives prune), else the session copy. */
async function sourceOf(row: Row, projectDir: string): Promise<string | null> {
  const inProject = (p: string) => (isAbsolute(p) ? p : join(projectDir, p));
  const candidates = [row.path ? inProject(String(row.path)) : null, row.session_dir ? join(inProject(String(row.session_dir)), String(row.filename)) : null];
  for (const candidate of candidates) if (candidate && (await readable(candidate))) return candidate;
  return null;
}

async function thumbnailOf(file: string, size: number): Promise<string> {
  const sharp = (await import('sharp')).default;
  const webp = await sharp(file).resize(size, size, { fit: 'inside' }).webp({ quality: 70 }).toBuffer();
  return `data:image/webp;base64,${webp.toString('base64')}`;
}

/** Rows of gridSql -> grids with thumbnails, each image encoded once however often it appears. */
export async function buildGrids(rows: Row[], projectDir: string, size = 128): Promise<Grid[]> {
  const limit = pLimit(8);
  const thumbnails = new Map<string, Promise<string | null>>();
  const thumbnail = (row: Row) => {
    const id = String(row.image_id);
    if (!thumbnails.has(id)) {
      thumbnails.set(id, limit(async () => {
        const file = await sourceOf(row, projectDir);
        return file ? thumbnailOf(file, size).catch(() => null) : null;
      }));
    }
    return thumbnails.get(id)!;
  };
  const encoded = await Promise.all(rows.map(thumbnail));
  const grids = new Map<string, Grid>();
  for (const [i, row] of rows.entries()) {
    const key = JSON.stringify([row.axis, row.value]);
    if (!grids.has(key)) grids.set(key, { axis: String(row.axis), value: String(row.value), best: [], worst: [] });
    const image: GridImage = {
      imageId: String(row.image_id),
      pTarget: Number(row.p_target),
      matched: Boolean(row.matched),
      filename: String(row.filename),
      thumbnail: encoded[i],
    };
    grids.get(key)![row.is_best ? 'best' : 'worst'].push(image);
  }
  for (const grid of grids.values()) grid.worst.sort((a, b) => a.pTarget - b.pTarget);
  return [...grids.values()];
}
