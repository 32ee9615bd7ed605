// The review app's read side: an in-memory DuckDB over the current Parquet tables (as
// pipeline.lock names them) and the journals. Never the state database, so a running
// `pipeline run` blocks nothing here. One row per image and one per (image, axis) are
// copied into memory whenever the lock points at new tables, so a gallery page over
// 40,000 images is a scan of a small table, not a five-way Parquet join. The copy is
// made on a second connection while the first keeps answering from the previous one.
import { resolve } from 'node:path';
import { lockedTables, type FileSql, type ProjectFiles } from '../src/file-context.js';
import type { Sql } from '../src/stage.js';

const needed = ['images', 'prompts'];

function axesSql(has: Set<string>): string {
  if (!has.has('scores')) {
    return `SELECT NULL::VARCHAR AS image_id, NULL::VARCHAR AS axis, NULL::VARCHAR AS value, NULL::VARCHAR AS value_text, NULL::DOUBLE AS p_target, NULL::DOUBLE AS margin,
      NULL::VARCHAR AS top_value, NULL::BOOLEAN AS matched, NULL::VARCHAR AS probe_value, NULL::DOUBLE AS p_probe WHERE false`;
  }
  const predictions = has.has('predictions');
  // sdgen keys an inline list item by its MD5: a person reads its text instead.
  const inline = has.has('variation_values');
  return `SELECT s.image_id, s.axis, s.value, ${inline ? 'coalesce(v.text, s.value)' : 's.value'} AS value_text, s.p_target, s.margin, s.top_value, s.matched,
      ${predictions ? 'pr.probe_value, pr.p_probe' : 'NULL::VARCHAR AS probe_value, NULL::DOUBLE AS p_probe'}
    FROM scores s ${predictions ? 'LEFT JOIN predictions pr ON pr.image_id = s.image_id AND pr.axis = s.axis' : ''}
    ${inline ? 'LEFT JOIN variation_values v ON v.axis = s.axis AND v.key = s.value AND v.inline' : ''}
    QUALIFY row_number() OVER (PARTITION BY s.image_id, s.axis ORDER BY s.prompt_id) = 1`;
}

/** The copies, as web_axes_next and web_images_next (swapped in once complete). */
function copySql(has: Set<string>): string {
  const quality = has.has('quality');
  return `
    CREATE OR REPLACE TABLE web_axes_next AS ${axesSql(has)};
    CREATE OR REPLACE TABLE web_images_next AS
    SELECT i.image_id, p.session, p.prompt, p.negative_prompt, p.source, i.prompt_id, i.seed, i.path, i.width, i.height,
      i.status, i.model_name, i.loras, i.session_dir, i.filename,
      ${quality ? 'q.verdict, q.match_score' : 'NULL::VARCHAR AS verdict, NULL::DOUBLE AS match_score'},
      a.certainty, coalesce(a.disagree, false) AS disagree,
      row_number() OVER (ORDER BY i.session_dir, i.filename, i.image_id) AS made_order
    FROM images i JOIN prompts p USING (prompt_id)
    ${quality ? 'LEFT JOIN quality q USING (image_id)' : ''}
    LEFT JOIN (SELECT image_id, min(abs(margin)) AS certainty,
                 bool_or(probe_value IS NOT NULL AND probe_value <> top_value) AS disagree
               FROM web_axes_next GROUP BY image_id) a USING (image_id)
    WHERE i.image_id <> '' AND i.status <> 'failed'
    QUALIFY row_number() OVER (PARTITION BY i.image_id ORDER BY i.session_dir, i.filename) = 1;`;
}

const swapSql = `BEGIN TRANSACTION;
  DROP TABLE IF EXISTS web_axes; ALTER TABLE web_axes_next RENAME TO web_axes;
  DROP TABLE IF EXISTS web_images; ALTER TABLE web_images_next RENAME TO web_images;
  COMMIT;`;

// Until someone labels, the journals have no file and so no view: empty stand-ins, which
// the journal's own view replaces from its first line on.
const journalStandIns = `
  CREATE TEMP VIEW IF NOT EXISTS labels AS
    SELECT NULL::VARCHAR AS image_id, NULL::VARCHAR AS axis, NULL::VARCHAR AS value, NULL::BOOLEAN AS reject, NULL::VARCHAR AS created_at WHERE false;
  CREATE TEMP VIEW IF NOT EXISTS favourites AS
    SELECT NULL::VARCHAR AS image_id, NULL::BOOLEAN AS favourite, NULL::VARCHAR AS created_at WHERE false;`;

export class Catalog {
  private version = '';
  private copying: Promise<void> | undefined;

  private constructor(
    /** the queries of requests */
    readonly sql: Sql,
    /** the copies, so requests never queue behind one */
    private readonly copier: Sql,
    private readonly project: ProjectFiles,
  ) {}

  /** A path as the tables store it (relative to the project when inside it) made absolute. */
  fileOf(stored: string): string {
    return resolve(this.project.dir, stored);
  }

  static async open(files: FileSql, project: ProjectFiles): Promise<Catalog> {
    await files.sql(journalStandIns);
    return new Catalog(files.sql, await files.connect(), project);
  }

  /**
   * Start a new copy when pipeline.lock names other table contents; until it is done,
   * requests see the previous one. False while no run has made the tables yet.
   */
  async ready(): Promise<boolean> {
    const tables = lockedTables(this.project);
    if (!needed.every((name) => tables[name])) return false;
    const version = Object.entries(tables).map(([name, t]) => `${name}=${t.hash}`).sort().join(',');
    if (version !== this.version && !this.copying) {
      this.copying = this.copy(new Set(Object.keys(tables)), version).finally(() => {
        this.copying = undefined;
      });
      // a failed copy is tried again by the next request; only the very first one is waited for, and fails that request
      this.copying.catch(() => undefined);
    }
    if (!this.version) await this.copying;
    return true;
  }

  private async copy(has: Set<string>, version: string): Promise<void> {
    await this.copier(copySql(has));
    await this.sql(swapSql);
    this.version = version;
  }
}
