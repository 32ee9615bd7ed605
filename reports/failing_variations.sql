-- The variation values that fail most, with their Wilson 95% intervals.
--
-- Ranked by the upper end of the success interval (ci_high, the column beside the
-- value), lowest first: a value
-- listed here fails even on the most charitable reading of its data. That keeps a
-- value that failed on its only image (0/1, ci_high 0.79) below one that failed on
-- 40 of 100 (ci_high 0.69), which is the surer problem. Ties go to more failures.
-- Success is as in variation_success: the scorer's top value is the one asked for.
-- value is the key (sdgen's MD5 for an inline list item), text what it renders.
--
-- @needs scores, prompts, images, variation_values
-- @sort ci_high ascending (the upper end of the Wilson 95% success interval), then failures, most first
-- @param session string % only sessions whose name matches this LIKE pattern
-- @param min_n int 1 ignore values scored on fewer images than this
-- @param limit int 10 how many values to list
WITH scored AS (
  SELECT s.axis, s.value, s.matched, s.p_target
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
  GROUP BY axis, value
),
rated AS (
  SELECT c.*, v.text, successes / n AS p, 1.96::DOUBLE AS z
  FROM counted c LEFT JOIN variation_values v ON v.axis = c.axis AND v.key = c.value
  WHERE n >= $min_n
)
SELECT axis, value, text,
       least(1, (p + z*z/(2*n) + z*sqrt(p*(1-p)/n + z*z/(4*pow(n, 2)))) / (1 + z*z/n)) AS ci_high,
       n,
       n - successes AS failures,
       1 - p AS failure_rate,
       p AS success_rate,
       greatest(0, (p + z*z/(2*n) - z*sqrt(p*(1-p)/n + z*z/(4*pow(n, 2)))) / (1 + z*z/n)) AS ci_low,
       mean_p_target
FROM rated
ORDER BY ci_high, failures DESC, axis, value
LIMIT $limit
