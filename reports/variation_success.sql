-- How often each variation value comes out as asked, with a Wilson 95% interval.
--
-- One row per axis and value that prompts asked for. An image succeeds on an axis when
-- the scorer's top value is the value its prompt asked for (scores.matched).
-- value is the key (sdgen's MD5 for an inline list item), text what it renders.
-- ci_low / ci_high: the Wilson score interval with z = 1.96. Unlike p +/- 1.96 * SE it
-- stays inside [0, 1] and does not collapse to a point at 0/n or n/n, so values
-- seen on a handful of images get an honestly wide interval.
-- Session folders are named YYYYMMDD_HHMMSS-<session>...; `since` compares that
-- timestamp, and folders without one are always included.
--
-- @needs scores, prompts, images, variation_values
-- @sort axis, then success_rate, highest first
-- @param session string % only sessions whose name matches this LIKE pattern
-- @param since timestamp 1970-01-01 only images from session folders started on or after this
-- @param min_n int 1 hide values scored on fewer images than this
WITH scored AS (
  SELECT s.axis, s.value, s.matched, s.p_target,
         try_strptime(regexp_extract(i.session_dir, '(\d{8}_\d{6})', 1), '%Y%m%d_%H%M%S') AS started
  FROM scores s
  JOIN images i ON i.image_id = s.image_id AND i.prompt_id = s.prompt_id
  JOIN prompts p ON p.prompt_id = s.prompt_id
  WHERE p.session LIKE $session
),
counted AS (
  SELECT axis, value,
         count(*)::INTEGER AS n,
         (count(*) FILTER (WHERE matched))::INTEGER AS successes,
         avg(p_target) AS mean_p_target
  FROM scored
  WHERE started IS NULL OR started >= CAST($since AS TIMESTAMP)
  GROUP BY axis, value
),
rated AS (
  SELECT c.*, v.text, successes / n AS p, 1.96::DOUBLE AS z
  FROM counted c LEFT JOIN variation_values v ON v.axis = c.axis AND v.key = c.value
)
SELECT axis, value, text, n, successes,
       p AS success_rate,
       greatest(0, (p + z*z/(2*n) - z*sqrt(p*(1-p)/n + z*z/(4*pow(n, 2)))) / (1 + z*z/n)) AS ci_low,
       least(1, (p + z*z/(2*n) + z*sqrt(p*(1-p)/n + z*z/(4*pow(n, 2)))) / (1 + z*z/n)) AS ci_high,
       mean_p_target
FROM rated
WHERE n >= $min_n
ORDER BY axis, success_rate DESC, value
