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

/**
 * The `per` highest and `per` lowest scored images of each axis value. Top-n aggregates
 * (max_by/min_by with n) instead of window ranks: 4x faster over a million scores.
 * With few images a value's lists overlap; buildGrids shows each image once.
 */
export const gridSql = `
WITH shown AS (
  SELECT s.axis, s.value,
         {image_id: i.image_id, p_target: s.p_target, matched: s.matched, path: i.path, session_dir: i.session_dir, filename: i.filename} AS image
  FROM scores s
  JOIN images i ON i.image_id = s.image_id AND i.prompt_id = s.prompt_id
  WHERE i.image_id <> '' AND i.status IN ('ok', 'blank')
)
SELECT axis, value, max_by(image, image.p_target, $per) AS best, min_by(image, image.p_target, $per) AS worst
FROM shown
GROUP BY axis, value
ORDER BY axis, value`;

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
  const thumbnail = (image: Row) => {
    const id = String(image.image_id);
    if (!thumbnails.has(id)) {
      thumbnails.set(id, limit(async () => {
        const file = await sourceOf(image, projectDir);
        return file ? thumbnailOf(file, size).catch(() => null) : null;
      }));
    }
    return thumbnails.get(id)!;
  };
  const toImage = async (image: Row): Promise<GridImage> => ({
    imageId: String(image.image_id),
    pTarget: Number(image.p_target),
    matched: Boolean(image.matched),
    filename: String(image.filename),
    thumbnail: await thumbnail(image),
  });
  return Promise.all(
    rows.map(async (row) => {
      const best = (row.best as Row[]).sort((a, b) => Number(b.p_target) - Number(a.p_target));
      const shown = new Set(best.map((b) => b.image_id));
      const worst = (row.worst as Row[]).filter((w) => !shown.has(w.image_id)).sort((a, b) => Number(a.p_target) - Number(b.p_target));
      return { axis: String(row.axis), value: String(row.value), best: await Promise.all(best.map(toImage)), worst: await Promise.all(worst.map(toImage)) };
    }),
  );
}
