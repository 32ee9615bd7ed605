// The StageContext a stage module sees: its params, its inputs as artifacts, the store,
// SQL with its inputs as views, and channels for logs and progress.
import { mkdirSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { outputFolder } from './generations.js';
import { createObjectStore } from './store.js';
import { queryChunks, readParquetRows, tableViews } from './tables.js';
import { queryRows, type State } from './state.js';
import type { InputArtifact, Row, StageContext } from './stage.js';
import type { Project } from './project.js';
import type { StatCache } from './stat-cache.js';
import type { OutputRecord } from './lockfile.js';

export interface ContextChannels {
  log(stage: string, message: string): void;
  warn(stage: string, message: string): void;
  progress(stage: string, done: number, total: number, unit?: string): void;
}

export function inputArtifact(project: Project, state: State, name: string, record: OutputRecord): InputArtifact {
  const path = resolve(project.dir, record.path);
  if (record.kind === 'path') return { kind: 'path', name, path, hash: record.hash };
  return { kind: 'table', name, path, hash: record.hash, rows: <T>() => readParquetRows<T>(state, path) };
}

/** Validate a stage's params subtree with its module's schema: bad values are bad input. */
export function createStageContext(options: {
  project: Project;
  state: State;
  stage: string;
  params: unknown;
  inputs: Record<string, InputArtifact>;
  signal: AbortSignal;
  channels: ContextChannels;
  dynamicDeps: Set<string>;
  stats: StatCache;
  /** the objects removed as damaged before this run (ObjectStore.damagedLink) */
  damaged?: ReadonlySet<string>;
}): StageContext {
  const { project, state, stage, inputs, channels } = options;
  // One fresh folder per output and run: the version pipeline.lock names stays untouched until the switch.
  const folders = new Map<string, string>();
  const views = tableViews(Object.values(inputs).flatMap((i) => (i.kind === 'table' ? [[i.name, i.path] as [string, string]] : [])));
  // Messages name files as the user sees the project: data/prompts/x.yaml, not /home/.../data/prompts/x.yaml.
  const withinProject = (message: string) => message.split(`${project.dir}${sep}`).join('');
  return {
    stage,
    params: options.params,
    inputs,
    projectDir: project.dir,
    dataDir: project.dataDir,
    store: createObjectStore(project.paths.objects, options.stats.objects, options.damaged),
    outDir(output: string) {
      let dir = folders.get(output);
      if (!dir) folders.set(output, (dir = outputFolder(project.paths.stages, stage, output)));
      mkdirSync(dir, { recursive: true });
      return dir;
    },
    sql<T = Row>(query: string, params?: Record<string, unknown>): Promise<T[]> {
      return state.exclusive(async (c) => {
        if (views) await c.run(views);
        return queryRows<T>(c, query, params);
      });
    },
    sqlChunks: <T = Row>(query: string, params?: Record<string, unknown>) =>
      queryChunks<T>(state, query, { params, setup: views || undefined, scratch: join(project.paths.tables, `${stage}.query`) }),
    async fileHash(path: string) {
      const absolute = resolve(project.dir, path);
      const [hash] = await options.stats.hashFiles([absolute]);
      if (!hash) throw new Error(`cannot hash ${absolute}: not a readable file`);
      return hash;
    },
    dependOn(paths: string[]) {
      for (const p of paths) options.dynamicDeps.add(resolve(project.dir, p));
    },
    log: (m) => channels.log(stage, withinProject(m)),
    warn: (m) => channels.warn(stage, withinProject(m)),
    progress: (done, total, unit) => channels.progress(stage, done, total, unit),
    signal: options.signal,
  };
}
