// The CommandContext of a command that may change the state (loop, prune, promoted):
// the state database opens at its first sql, tables or run, and closes again on
// release(), so a command that waits holds nothing meanwhile. Its `query` is the SQL
// sandbox, for SQL a person wrote.
import { loadProject } from './project.js';
import { ProjectSession, checkOverrides } from './session.js';
import { fileSql, projectFiles, type FileSql } from './file-context.js';
import type { CommandContext } from './command.js';

export interface OnDemandContext {
  ctx: CommandContext;
  /** Close what is open: the state (copying its records for readers) and the sandbox. */
  close(): Promise<void>;
}

export async function onDemandContext(options: { dir: string; set: Record<string, unknown>; argv: string }): Promise<OnDemandContext> {
  const project = await loadProject(options.dir, options.set);
  checkOverrides(project, options.set);
  let session: Promise<ProjectSession> | undefined;
  let sandbox: Promise<FileSql> | undefined;
  const opened = () => (session ??= ProjectSession.onProject(project, { json: false }));
  const release = async () => {
    const open = session;
    session = undefined;
    if (open) await (await open).close();
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
