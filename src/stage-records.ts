// What the state recorded of each stage that deciding a skip reads: the files its last
// run reported reading (ctx.dependOn) and how its last execution ended. Read for every
// stage in one query when a status or run starts, not two queries per stage: each costs
// a few milliseconds of round trip. A stage's records change only when it runs itself,
// after its own skip was decided, so one read serves a whole run.
import type { State } from './state.js';

export interface StageRecords {
  /** files the stage reported reading last time, to check along with its declared deps */
  dynamicDeps(stage: string): string[];
  /** the stage's last recorded execution, in words, when it failed after the lock's entry was written */
  lastFailure(stage: string): string | undefined;
}

interface RecordRow {
  stage: string;
  dynamic: string | null;
  status: string | null;
  error: string | null;
}

export async function readStageRecords(state: State): Promise<StageRecords> {
  const rows = await state.query<RecordRow>(
    `WITH last AS (SELECT stage, arg_max(status, started_at) AS status, arg_max(error, started_at) AS error FROM stage_runs GROUP BY stage)
     SELECT stage, d.dynamic, l.status, l.error FROM stage_deps d FULL OUTER JOIN last l USING (stage)`,
  );
  const byStage = new Map(rows.map((row) => [row.stage, row]));
  return {
    dynamicDeps: (stage) => {
      const dynamic = byStage.get(stage)?.dynamic;
      return dynamic ? (JSON.parse(dynamic) as string[]) : [];
    },
    lastFailure: (stage) => {
      const last = byStage.get(stage);
      if (!last?.status || last.status === 'ok' || last.status === 'skipped') return undefined;
      return `previous run ${last.status}${last.error ? `: ${last.error.split('\n')[0]}` : ''}`;
    },
  };
}
