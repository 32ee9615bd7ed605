-- Two templates, sessions or phrasings of the same axis compared: success rates, their difference and its 95% interval.
--
-- `by` says what tells the two arms apart:
--   source   the prompt/template file (prompts.source)
--   session  the session name
--   style, theme
--   phrasing the text the chosen variation rendered (two wordings of one value)
-- `a` and `b` are LIKE patterns over that; left empty they default to the first two
-- distinct arms in alphabetical order. One row per axis (filtered by `axis`).
-- difference = rate_a - rate_b. Its interval is Newcombe's hybrid score interval
-- (method 10, built from the two Wilson intervals), which, like Wilson, behaves at
-- small n and at rates near 0 or 1. verdict says which arm wins when the interval
-- excludes 0.
--
-- @needs scores, prompts
-- @sort axis
-- @param by string source what separates the arms: source, session, style, theme or phrasing
-- @param a string '' LIKE pattern for arm a (default: the first arm)
-- @param b string '' LIKE pattern for arm b (default: the second arm)
-- @param axis string % only axes matching this LIKE pattern
WITH chosen AS (
  -- each prompt's variations parsed once, and only when comparing phrasings
  SELECT prompt_id,
         unnest(map_entries(from_json(variations, '"MAP(VARCHAR, STRUCT(key VARCHAR, text VARCHAR))"'))) AS variation
  FROM prompts
  WHERE $by = 'phrasing'
),
phrasings AS (
  SELECT prompt_id, variation.key AS axis,
         variation.value.text AS phrasing
  FROM chosen
),
tagged AS (
  SELECT s.axis, s.matched, s.p_target,
         CASE $by
           WHEN 'source' THEN p.source
           WHEN 'session' THEN p.session
           WHEN 'style' THEN p.style
           WHEN 'theme' THEN p.theme
           WHEN 'phrasing' THEN ph.phrasing
           ELSE error('prompt_ab: by must be source, session, style, theme or phrasing, got ' || $by)
         END AS arm
  FROM scores s
  JOIN prompts p ON p.prompt_id = s.prompt_id
  LEFT JOIN phrasings ph ON ph.prompt_id = s.prompt_id AND ph.axis = s.axis
  WHERE s.axis LIKE $axis
),
arm_names AS (
  SELECT coalesce(nullif($a, ''), (SELECT min(arm) FROM tagged)) AS a
),
both_names AS (
  SELECT a, coalesce(nullif($b, ''), (SELECT min(arm) FROM tagged WHERE arm NOT LIKE a)) AS b
  FROM arm_names
),
sided AS (
  SELECT t.axis, t.matched, t.p_target,
         CASE WHEN t.arm LIKE n.a THEN 'a' WHEN t.arm LIKE n.b THEN 'b' END AS side
  FROM tagged t, both_names n
),
counted AS (
  SELECT axis, side,
         count(*)::INTEGER AS n,
         (count(*) FILTER (WHERE matched))::INTEGER AS successes,
         avg(p_target) AS mean_p_target
  FROM sided
  WHERE side IS NOT NULL
  GROUP BY axis, side
),
wilson AS (
  SELECT *, p AS rate,
         (p + z*z/(2*n) - z*sqrt(p*(1-p)/n + z*z/(4*pow(n, 2)))) / (1 + z*z/n) AS lo,
         (p + z*z/(2*n) + z*sqrt(p*(1-p)/n + z*z/(4*pow(n, 2)))) / (1 + z*z/n) AS hi
  FROM (SELECT *, successes / n AS p, 1.96::DOUBLE AS z FROM counted)
),
compared AS (
  SELECT ca.axis, n.a AS arm_a, n.b AS arm_b,
         ca.n AS n_a, ca.successes AS successes_a, ca.rate AS rate_a,
         cb.n AS n_b, cb.successes AS successes_b, cb.rate AS rate_b,
         ca.rate - cb.rate AS difference,
         ca.rate - cb.rate - sqrt(pow(ca.rate - ca.lo, 2) + pow(cb.hi - cb.rate, 2)) AS diff_ci_low,
         ca.rate - cb.rate + sqrt(pow(ca.hi - ca.rate, 2) + pow(cb.rate - cb.lo, 2)) AS diff_ci_high,
         ca.mean_p_target - cb.mean_p_target AS mean_p_target_difference
  FROM wilson ca
  JOIN wilson cb ON cb.axis = ca.axis AND ca.side = 'a' AND cb.side = 'b'
  CROSS JOIN both_names n
)
SELECT *,
       CASE WHEN diff_ci_low > 0 THEN 'a better'
            WHEN diff_ci_high < 0 THEN 'b better'
            ELSE 'no clear difference' END AS verdict
FROM compared
ORDER BY axis
