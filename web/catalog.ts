// The review app's read side: one in-memory DuckDB over the current Parquet tables (as
// pipeline.lock names them) and the journals. Never the state database, so a running
// `pipeline run` blocks nothing here. One row per image and one per (image, axis) are
// copied into memory whenever the lock points at new tables, so a gallery page over
// 40,000 images is an indexed scan of a small table, not a five-way Parquet join.
import type { CommandContext } from '../src/command.js';

type Sql = CommandContext['sql'];

const needed = ['images', 'prompts'];

function snapshotSql(has: Set<string>): string {
  const quality = has.has('quality');
  const scores = has.has('scores');
  const predictions = has.has('predictions');
  const axes = scores
    ? `SELECT s.image_id, s.axis, s.value, s.p_target, s.margin, s.top_value, s.matched,
         ${predictions ? 'pr.probe_value, pr.p_probe' : 'NULL::VARCHAR AS probe_value, NULL::DOUBLE AS p_probe'}
       FROM scores s ${predictions ? 'LEFT JOIN predictions pr ON pr.image_id = s.image_id AND pr.axis = s.axis' : ''}
       QUALIFY row_number() OVER (PARTITION BY s.image_id, s.axis ORDER BY s.prompt_id) = 1`
    : `SELECT NULL::VARCHAR AS image_id, NULL::VARCHAR AS axis, NULL::VARCHAR AS value, NULL::DOUBLE AS p_target, NULL::DOUBLE AS margin,
         NULL::VARCHAR AS top_value, NULL::BOOLEAN AS matched, NULL::VARCHAR AS probe_value, NULL::DOUBLE AS p_probe WHERE false`;
  // Until someone labels, the journals have no file and so no view: empty stand-ins, which
  // the journal's own view replaces from its first line on.
  return `
    CREATE TEMP VIEW IF NOT EXISTS labels AS
      SELECT NULL::VARCHAR AS image_id, NULL::VARCHAR AS axis, NULL::VARCHAR AS value, NULL::BOOLEAN AS reject, NULL::VARCHAR AS created_at WHERE false;
    CREATE TEMP VIEW IF NOT EXISTS favourites AS
      SELECT NULL::VARCHAR AS image_id, NULL::BOOLEAN AS favourite, NULL::VARCHAR AS created_at WHERE false;
    CREATE OR REPLACE TABLE web_axes AS ${axes};
    CREATE OR REPLACE TABLE web_images AS
    SELECT i.image_id, p.session, p.prompt, p.negative_prompt, p.source, i.prompt_id, i.seed, i.path, i.width, i.height,
      i.status, i.model_name, i.loras, i.session_dir, i.filename,
      ${quality ? 'q.verdict, q.match_score' : 'NULL::VARCHAR AS verdict, NULL::DOUBLE AS match_score'},
      a.certainty, coalesce(a.disagree, false) AS disagree,
      row_number() OVER (ORDER BY i.session_dir, i.filename, i.image_id) AS made_order
    FROM images i JOIN prompts p USING (prompt_id)
    ${quality ? 'LEFT JOIN quality q USING (image_id)' : ''}
    LEFT JOIN (SELECT image_id, min(abs(margin)) AS certainty,
                 bool_or(probe_value IS NOT NULL AND probe_value <> top_value) AS disagree
               FROM web_axes GROUP BY image_id) a USING (image_id)
    WHERE i.image_id <> '' AND i.status <> 'failed'
    QUALIFY row_number() OVER (PARTITION BY i.image_id ORDER BY i.session_dir, i.filename) = 1;`;
}

export class Catalog {
  private version = '';
  private refreshing: Promise<void> | undefined;

  constructor(
    readonly sql: Sql,
    private readonly tables: CommandContext['tables'],
  ) {}

  /** Rebuild the in-memory copies when pipeline.lock names other table contents; false while nothing ran yet. */
  async ready(): Promise<boolean> {
    const tables = await this.tables();
    if (!needed.every((name) => tables[name])) return false;
    const version = Object.entries(tables).map(([name, t]) => `${name}=${t.hash}`).sort().join(',');
    if (version === this.version) return true;
    this.refreshing ??= this.sql(snapshotSql(new Set(Object.keys(tables))))
      .then(() => {
        this.version = version;
      })
      .finally(() => {
        this.refreshing = undefined;
      });
    await this.refreshing;
    return true;
  }
}
