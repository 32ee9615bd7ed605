// The review app's read side: an in-memory DuckDB over the current Parquet tables (as
// pipeline.lock names them) and the journals. Never the state database, so a running
// `pipeline run` blocks nothing here. One row per image and one per (image, axis) are
// copied into memory whenever the lock points at new tables, so a gallery page over
// 40,000 images is a scan of a small table, not a five-way Parquet join. The copy is
// made on a second connection while the first keeps answering from the previous one.
import { resolve } from 'node:path';
import { lockedTables, type FileSql, type ProjectFiles } from '../src/file-context.js';
import type { Sql } from '../src/stage.js';
import { scoredZones, type Zone } from './zones.js';

const needed = ['images', 'prompts'];

// An image id is its content hash: two rows with one id are the same picture twice (the
// same file in two folders, or two prompts that rendered the very same bytes), and the
// first one stands. Such ids are rare, so their rows alone are ranked, and only when there
// are any: ranking every row costs the copy more than all the rest of it.
const twiceSql = `CREATE OR REPLACE TEMP TABLE web_twice AS
  SELECT image_id FROM images WHERE image_id <> '' GROUP BY image_id HAVING count(*) > 1;`;

/** `select` (rows with an image_id) once per image id: as they are for ids seen once, the first by `order` for the others. */
function firstPerImage(select: string, twice: boolean, partition: string, order: string): string {
  if (!twice) return select;
  return `SELECT * FROM (${select}) WHERE image_id NOT IN (SELECT image_id FROM web_twice)
    UNION ALL
    (SELECT * FROM (${select}) WHERE image_id IN (SELECT image_id FROM web_twice)
     QUALIFY row_number() OVER (PARTITION BY ${partition} ORDER BY ${order}) = 1)`;
}

function axesSql(has: Set<string>, twice: boolean): string {
  if (!has.has('scores')) {
    return `SELECT NULL::VARCHAR AS image_id, NULL::VARCHAR AS axis, NULL::VARCHAR AS value, NULL::VARCHAR AS value_text, NULL::DOUBLE AS p_target, NULL::DOUBLE AS margin,
      NULL::VARCHAR AS top_value, NULL::BOOLEAN AS matched, NULL::VARCHAR AS method, NULL::VARCHAR AS probe_value, NULL::DOUBLE AS p_probe WHERE false`;
  }
  const predictions = has.has('predictions');
  // sdgen keys an inline list item by its MD5: a person reads its text instead.
  const inline = has.has('variation_values');
  const readings = `SELECT s.image_id, s.prompt_id, s.axis, s.value, ${inline ? 'coalesce(v.text, s.value)' : 's.value'} AS value_text,
      s.p_target, s.margin, s.top_value, s.matched, s.method,
      ${predictions ? 'pr.probe_value, pr.p_probe' : 'NULL::VARCHAR AS probe_value, NULL::DOUBLE AS p_probe'}
    FROM scores s ${predictions ? 'LEFT JOIN predictions pr ON pr.image_id = s.image_id AND pr.axis = s.axis' : ''}
    ${inline ? 'LEFT JOIN variation_values v ON v.axis = s.axis AND v.key = s.value AND v.inline' : ''}`;
  return `SELECT * EXCLUDE (prompt_id) FROM (${firstPerImage(readings, twice, 'image_id, axis', 'prompt_id')})`;
}

function imagesSql(has: Set<string>, twice: boolean): string {
  const quality = has.has('quality');
  const made = `SELECT i.image_id, p.session, p.theme, p.prompt, p.negative_prompt, p.source, i.prompt_id, i.seed, i.path, i.width, i.height,
      i.status, i.model_name, i.loras, i.session_dir, i.filename,
      -- loras are stored as name:weight; the filter asks for the name
      list_transform(i.loras, l -> regexp_replace(l, ':[^:]*$', '')) AS lora_names,
      -- sessions are folders named by the time they started (YYYYMMDD_HHMMSS): the date an image was made
      try_strptime(regexp_extract(i.session_dir, '(\\d{8}_\\d{6})', 1), '%Y%m%d_%H%M%S') AS made_at,
      ${quality ? 'q.verdict, q.match_score, q.flagged' : 'NULL::VARCHAR AS verdict, NULL::DOUBLE AS match_score, false AS flagged'},
      a.certainty, a.margin, coalesce(a.disagree, false) AS disagree
    FROM images i JOIN prompts p USING (prompt_id) ${quality ? 'LEFT JOIN quality q USING (image_id)' : ''}
    LEFT JOIN (SELECT image_id, min(abs(margin)) AS certainty, min(margin) AS margin,
                 bool_or(probe_value IS NOT NULL AND probe_value <> top_value) AS disagree
               FROM web_axes_next GROUP BY image_id) a USING (image_id)
    WHERE i.image_id <> '' AND i.status <> 'failed'`;
  return firstPerImage(made, twice, 'image_id', 'session_dir, filename');
}

/** The copies, as web_axes_next and web_images_next (swapped in once complete). */
function copySql(has: Set<string>, twice: boolean): string {
  return `CREATE OR REPLACE TABLE web_axes_next AS ${axesSql(has, twice)};
    CREATE OR REPLACE TABLE web_images_next AS ${imagesSql(has, twice)};`;
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
    SELECT NULL::VARCHAR AS image_id, NULL::BOOLEAN AS favourite, NULL::VARCHAR AS created_at WHERE false;
  CREATE TEMP VIEW IF NOT EXISTS tags AS
    SELECT NULL::VARCHAR AS image_id, NULL::VARCHAR AS tag, NULL::BOOLEAN AS "on", NULL::VARCHAR AS created_at WHERE false;`;

export class Catalog {
  private version = '';
  /** the score zones the current scores were read with */
  zones: Record<string, Zone> = {};
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

  /** Whether a run has made the table (its view exists only then). */
  has(table: string): boolean {
    return Boolean(lockedTables(this.project)[table]);
  }

  static async open(files: FileSql, project: ProjectFiles): Promise<Catalog> {
    // every query here says its order, so the copies need not keep the files' row order (a quarter faster)
    await files.sql(`SET preserve_insertion_order = false; ${journalStandIns}`);
    const catalog = new Catalog(files.sql, await files.connect(), project);
    // the first copy starts now, not at the first request: by the time a browser asks, it is usually done
    catalog.ready().catch(() => undefined);
    return catalog;
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
    await this.copier(twiceSql);
    const [twice] = await this.copier<{ n: number }>('SELECT count(*)::INTEGER AS n FROM web_twice');
    await this.copier(copySql(has, (twice?.n ?? 0) > 0));
    await this.sql(swapSql);
    this.zones = scoredZones(this.project);
    this.version = version;
  }
}
