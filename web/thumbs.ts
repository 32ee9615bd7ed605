// Gallery thumbnails: WebP, made once per image content hash (the image id) and kept
// under data/thumbs/, so a gallery of 40,000 images costs each picture one resize ever.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { produceAtomic } from '../src/atomic.js';

export const THUMB_SIZE = 320;

export class Thumbnails {
  /** Resizing is CPU work: a few at a time keep the server answering while a page fills. */
  private readonly limit = pLimit(2);
  private readonly making = new Map<string, Promise<string>>();

  constructor(private readonly dir: string) {}

  pathOf(id: string): string {
    return join(this.dir, id.slice(0, 2), `${id}-${THUMB_SIZE}.webp`);
  }

  /** The thumbnail's file, made from `source` when it is not there yet (one making per id at a time). */
  async get(id: string, source: string): Promise<string> {
    const path = this.pathOf(id);
    if (existsSync(path)) return path;
    let making = this.making.get(id);
    if (!making) {
      making = this.limit(() => this.make(source, path)).finally(() => this.making.delete(id));
      this.making.set(id, making);
    }
    return making;
  }

  private async make(source: string, path: string): Promise<string> {
    const { default: sharp } = await import('sharp');
    await produceAtomic(path, async (tmp) => {
      await sharp(source).resize({ width: THUMB_SIZE, height: THUMB_SIZE, fit: 'inside' }).webp({ quality: 78 }).toFile(tmp);
    });
    return path;
  }
}
