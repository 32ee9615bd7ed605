// Stored objects stat'ed while the CLI loads. A no-op status or run stats every object its
// memo hits name (40,000 at a user's scale): about 100 ms, after a quarter of a second of
// loading modules and opening the state on one core. Each check leaves the list it
// checked (path, size, mtime, inode per line, under a line that sums them up) in
// data/.sdloop/object-checks/; the next status or run starts a worker on those lists
// before it imports anything else, and its check takes the worker's findings only when
// its own list sums up the same, and only once. A wrong guess of the project or the
// command costs the time it would have saved, never a result.
import { closeSync, existsSync, mkdirSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { writeFileAtomic } from './atomic.js';
import { projectDirFor, projectPaths } from './project-dir.js';

/**
 * The lines of `text` from `start` to `end` (each `path \t size \t mtimeMs \t ino`, the
 * path relative to `base`) whose file is gone, is not a file, or has another size, mtime
 * or inode.
 */
export function movedLines(text: string, base: string, start = 0, end = text.length): string[] {
  const moved: string[] = [];
  while (start < end) {
    const next = text.indexOf('\n', start);
    const stop = next < 0 || next > end ? end : next;
    const t3 = text.lastIndexOf('\t', stop - 1);
    const t2 = text.lastIndexOf('\t', t3 - 1);
    const t1 = text.lastIndexOf('\t', t2 - 1);
    const s = statSync(base + text.slice(start, t1), { throwIfNoEntry: false });
    if (!(s?.isFile() && s.size === +text.slice(t1 + 1, t2) && s.mtimeMs === +text.slice(t2 + 1, t3) && s.ino === +text.slice(t3 + 1, stop))) {
      moved.push(text.slice(start, stop));
    }
    start = stop + 1;
  }
  return moved;
}

/** Where checks leave their lists, one file per stage. */
export const checkListsDir = (projectDir: string) => projectPaths(projectDir).paths.objectChecks;

/** One list as the worker found it. */
export interface PreloadedList {
  name: string;
  base: string;
  /** the list's first line: what the check that wrote it summed its lines up as */
  summary: string;
  moved: string[];
}

/** A list file's text: its summary line, then its lines. */
export const listText = (summary: string, lines: string) => `${summary}\n${lines}`;

/** Commands that check stored objects. */
const checking = new Set(['status', 'run']);
/** Global options that take a value: `-C DIR`, `--set PATH=VALUE`. */
const valued = new Set(['-C', '--dir', '-S', '--set']);

/** The project a `status` or `run` command line acts on, read as the CLI will (a guess for anything odder); none for other commands. */
export function checkedProject(argv: string[], cwd = process.cwd()): string | undefined {
  let dir: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (valued.has(arg)) {
      if (arg === '-C' || arg === '--dir') dir = argv[i + 1];
      i++;
    } else if (arg.startsWith('--dir=')) dir = arg.slice('--dir='.length);
    else if (arg.startsWith('-C')) dir = arg.slice(2);
    else if (!arg.startsWith('-')) return checking.has(arg) ? projectDirFor(dir, cwd) : undefined;
  }
  return undefined;
}

let preloaded: Promise<Map<string, PreloadedList>> | undefined;

/** For `pipeline status` and `pipeline run`: stat the objects the last checks listed, on a worker. */
export function preloadObjectChecks(argv: string[]): void {
  const projectDir = checkedProject(argv);
  if (projectDir === undefined) return;
  const folder = checkListsDir(projectDir);
  const script = new URL('./stat-preload-worker.js', import.meta.url);
  if (!existsSync(folder) || !existsSync(script)) return;
  const worker = new Worker(script, { workerData: { folder, base: `${projectDir}/` } });
  worker.unref();
  preloaded = new Promise((resolve) => {
    worker.once('message', (lists: PreloadedList[]) => resolve(new Map(lists.map((list) => [list.name, list]))));
    worker.once('error', () => resolve(new Map()));
    worker.once('exit', () => resolve(new Map()));
  });
}

/**
 * What the worker found for list `name` under `base`, if it ran; the check compares its
 * summary with its own. Taken once: a second check in the same command stats anew.
 */
export async function takePreloaded(name: string, base: string): Promise<PreloadedList | undefined> {
  const lists = await preloaded;
  const found = lists?.get(name);
  lists?.delete(name);
  return found?.base === base ? found : undefined;
}

/** The first line of a file, if it has one within its first kilobyte. */
function firstLine(file: string): string | undefined {
  if (!existsSync(file)) return undefined;
  const fd = openSync(file, 'r');
  try {
    const head = Buffer.alloc(1024);
    const text = head.subarray(0, readSync(fd, head, 0, head.length, 0)).toString('utf8');
    return text.includes('\n') ? text.slice(0, text.indexOf('\n')) : undefined;
  } finally {
    closeSync(fd);
  }
}

/** Leave a check's list for the next command's worker (none when it names no object). */
export async function keepCheckList(projectDir: string, name: string, summary: string, lines: string): Promise<void> {
  const file = join(checkListsDir(projectDir), `${name}.tsv`);
  if (!lines) rmSync(file, { force: true });
  else if (firstLine(file) !== summary) {
    mkdirSync(dirname(file), { recursive: true });
    await writeFileAtomic(file, listText(summary, lines));
  }
}
