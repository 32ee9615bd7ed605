-- Prompt adherence by checkpoint (model hash) and LoRA, with Wilson 95% intervals.
--
-- adherence: the share of (image, axis) scores where the scorer's top value is the one
-- the prompt asked for, over every axis. lora lists the LoRAs an image was made with,
-- sorted, or (none). Compare rows of one model with and without a LoRA to see what
-- the LoRA does; the intervals say whether the gap is more than noise.
--
-- @needs scores, images
-- @param min_n int 1 hide combinations with fewer scores than this
WITH scored AS (
  SELECT i.model_name, i.model_hash,
         CASE WHEN len(i.loras) = 0 THEN '(none)' ELSE array_to_string(list_sort(i.loras), ', ') END AS lora,
         s.image_id, s.matched, s.p_target
  FROM scores s
  JOIN images i ON i.image_id = s.image_id AND i.prompt_id = s.prompt_id
),
counted AS (
  SELECT model_name, model_hash, lora,
         count(DISTINCT image_id)::INTEGER AS images,
         count(*)::INTEGER AS n,
         (count(*) FILTER (WHERE matched))::INTEGER AS successes,
         avg(p_target) AS mean_p_target
  FROM scored
  GROUP BY model_name, model_hash, lora
),
rated AS (
  SELECT *, successes / n AS p, 1.96 AS z FROM counted WHERE n >= $min_n
)
SELECT model_name, model_hash, lora, images, n, successes,
       p AS adherence,
       greatest(0, (p + z*z/(2*n) - z*sqrt(p*(1-p)/n + z*z/(4*n*n))) / (1 + z*z/n)) AS ci_low,
       least(1, (p + z*z/(2*n) + z*sqrt(p*(1-p)/n + z*z/(4*n*n))) / (1 + z*z/n)) AS ci_high,
       mean_p_target
FROM rated
ORDER BY model_name, model_hash, lora
