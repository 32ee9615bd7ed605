// The CommandContext of a command that may change the state (loop, prune, promoted):
// the state database opens at its first sql, tables or run, and closes again on
// release(), so a command that waits holds nothing meanwhile. While it is open the
// command holds the run lock too, as a run does: between the runs of a loop round (its
// queries, a merge, the readers' copy at close) `status` shows what holds the project
// instead of waiting for the database and failing. Its `query` is the SQL sandbox, for
// SQL a person wrote.
import { loadProject, type Project } from './project.js';
import { ProjectSession, checkOverrides } from './session.js';
import { fileSql, projectFiles, type FileSql } from './file-context.js';
import { acquireProjectLock } from './project-lock.js';
import type { CommandContext } from './command.js';

export interface OnDemandContext {
  ctx: CommandContext;
  /** Close what is open: the state (copying its records for readers) and the sandbox. */
  close(): Promise<void>;
}

interface LockedSession {
  session: ProjectSession;
  releaseLock: () => void;
}

async function openLocked(project: Project, argv: string): Promise<LockedSession> {
  const lock = acquireProjectLock(project.paths.runLock, argv, project.dir);
  if (lock.staleNote) process.stderr.write(`note: ${lock.staleNote}\n`);
  try {
    return { session: await ProjectSession.onProject(project, { json: false }), releaseLock: lock.release };
  } catch (error) {
    lock.release();
    throw error;
  }
}

export async function onDemandContext(options: { dir: string; set: Record<string, unknown>; argv: string }): Promise<OnDemandContext> {
  const project = await loadProject(options.dir, options.set);
  checkOverrides(project, options.set);
  let locked: Promise<LockedSession> | undefined;
  let sandbox: Promise<FileSql> | undefined;
  // A session opens only once the one before it has closed and let go of the lock.
  let closing: Promise<void> = Promise.resolve();
  const opened = async () => (await (locked ??= closing.catch(() => undefined).then(() => openLocked(project, options.argv)))).session;
  const release = () => {
    const open = locked;
    locked = undefined;
    closing = closing.catch(() => undefined).then(async () => {
      const held = await open?.catch(() => undefined);
      if (!held) return;
      try {
        await held.session.close();
      } finally {
        held.releaseLock();
      }
    });
    return closing;
  };
  const ctx: CommandContext = {
    projectDir: project.dir,
    dataDir: project.dataDir,
    params: project.params,
    sql: async (q, p) => (await opened()).sql(q, p),
    query: async (q, p) => (await (sandbox ??= fileSql(projectFiles(project.dir)))).query(q, p),
    tables: async () => (await opened()).tables(),
    run: async (run) => (await opened()).run({ ...run, argv: options.argv }),
    release,
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
  };
  return {
    ctx,
    async close() {
      try {
        await release();
      } finally {
        if (sandbox) await (await sandbox).close();
      }
    },
  };
}
