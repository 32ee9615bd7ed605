// stat-preload.ts's worker: every list the last checks left, with the lines that moved since.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { movedLines, type PreloadedList } from './stat-preload.js';

const { folder, base } = workerData as { folder: string; base: string };
const lists: PreloadedList[] = readdirSync(folder)
  .filter((file) => file.endsWith('.tsv'))
  .map((file) => {
    const text = readFileSync(join(folder, file), 'utf8');
    const cut = text.indexOf('\n');
    return { name: file.slice(0, -'.tsv'.length), base, summary: cut < 0 ? text : text.slice(0, cut), moved: cut < 0 ? [] : movedLines(text, base, cut + 1) };
  });
parentPort!.postMessage(lists);
