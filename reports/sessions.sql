-- Per session: images planned, made and failed, average match, flagged images, and whether it is complete.
--
-- planned: prompt rows of the session (what resolve asked for).
-- made / failed / blank: images by status; missing: planned but not generated (yet).
-- avg_match: mean quality.match_score over the session's scored images.
-- complete: avg_match is over `complete_at` (0.75 by default).
-- started: the earliest session folder timestamp (folders are YYYYMMDD_HHMMSS-...);
-- sessions with no images yet have none and are always listed.
--
-- @needs prompts, images, quality
-- @param since timestamp 1970-01-01 only sessions started on or after this
-- @param complete_at number 0.75 average match above which a session counts as complete
WITH planned AS (
  SELECT session, count(*)::INTEGER AS planned
  FROM prompts
  GROUP BY session
),
generated AS (
  SELECT p.session,
         min(try_strptime(regexp_extract(i.session_dir, '(\d{8}_\d{6})', 1), '%Y%m%d_%H%M%S')) AS started,
         (count(*) FILTER (WHERE i.status = 'ok'))::INTEGER AS made,
         (count(*) FILTER (WHERE i.status = 'failed'))::INTEGER AS failed,
         (count(*) FILTER (WHERE i.status = 'blank'))::INTEGER AS blank,
         count(DISTINCT i.prompt_id)::INTEGER AS attempted,
         avg(q.match_score) AS avg_match,
         (count(*) FILTER (WHERE q.flagged))::INTEGER AS flagged
  FROM images i
  JOIN prompts p ON p.prompt_id = i.prompt_id
  LEFT JOIN quality q ON q.image_id = i.image_id AND q.prompt_id = i.prompt_id
  GROUP BY p.session
)
SELECT pl.session,
       strftime(g.started, '%Y-%m-%d %H:%M:%S') AS started,
       pl.planned,
       coalesce(g.made, 0) AS made,
       coalesce(g.failed, 0) AS failed,
       coalesce(g.blank, 0) AS blank,
       pl.planned - coalesce(g.attempted, 0) AS missing,
       g.avg_match,
       coalesce(g.flagged, 0) AS flagged,
       coalesce(g.avg_match > $complete_at, false) AS complete
FROM planned pl
LEFT JOIN generated g ON g.session = pl.session
WHERE g.started IS NULL OR g.started >= CAST($since AS TIMESTAMP)
ORDER BY g.started NULLS LAST, pl.session
