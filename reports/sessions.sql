-- Per session folder, generated or imported: images planned, made and failed, average match, flagged images, and the verdict.
--
-- One row per folder of the `sessions` table (stage sessions), imported sdgen sessions and
-- A1111 folders included (origin, format).
-- planned: what the manifest planned (imported), or the session's prompt rows (generated).
-- made / failed / blank: images present, missing from the manifest's plan (gaps in the
-- index are failures), and blank (as in the quality report: returned blank by the
-- backend or found blank by the score stage); missing: planned prompts not generated (yet).
-- avg_match: mean quality.match_score over the images with a measured variation.
-- flagged: quality.flagged plus imported images with their variation text burned in.
-- verdict: `complete` when avg_match is above score.thresholds.session_complete
-- (default 0.75), else `review`; `complete_at` re-judges at another threshold here.
-- started: from the folder name (YYYYMMDD_HHMMSS-... or YYYY-MM-DD_HHMMSS_...); the
-- folder itself is sessions.session_dir (`pipeline sql "select * from sessions"`).
--
-- @needs sessions, prompts, images
-- @sort started, oldest first (folders with no date in their name last), then session
-- @param since timestamp 1970-01-01 only sessions started on or after this (folders with no date in their name are always listed)
-- @param complete_at string '' a threshold to judge by instead of the one the sessions stage used
WITH missing AS (
  SELECT p.session, count(*)::INTEGER AS missing
  FROM prompts p
  LEFT JOIN images i ON i.prompt_id = p.prompt_id
  WHERE i.prompt_id IS NULL
  GROUP BY p.session
),
dated AS (
  SELECT s.*,
         coalesce(
           try_strptime(regexp_extract(s.session_dir, '(\d{8}_\d{6})', 1), '%Y%m%d_%H%M%S'),
           try_strptime(regexp_extract(s.session_dir, '(\d{4}-\d{2}-\d{2}_\d{6})', 1), '%Y-%m-%d_%H%M%S')
         ) AS started
  FROM sessions s
)
SELECT d.session,
       strftime(d.started, '%Y-%m-%d %H:%M:%S') AS started,
       d.origin,
       d.format,
       (d.planned + coalesce(m.missing, 0))::INTEGER AS planned,
       d.present::INTEGER AS made,
       d.failed::INTEGER AS failed,
       d.blank::INTEGER AS blank,
       coalesce(m.missing, 0) AS missing,
       d.mean_match AS avg_match,
       d.flagged::INTEGER AS flagged,
       d.annotated::INTEGER AS annotated,
       CASE WHEN $complete_at = '' THEN d.verdict = 'complete'
            ELSE coalesce(d.mean_match > CAST($complete_at AS DOUBLE), false) END AS complete,
       CASE WHEN $complete_at = '' THEN d.verdict
            WHEN coalesce(d.mean_match > CAST($complete_at AS DOUBLE), false) THEN 'complete' ELSE 'review' END AS verdict
FROM dated d
LEFT JOIN missing m ON m.session = d.session AND d.origin = 'generated'
WHERE d.started IS NULL OR d.started >= CAST($since AS TIMESTAMP)
ORDER BY d.started NULLS LAST, d.session
