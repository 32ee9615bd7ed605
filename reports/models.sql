-- Prompt adherence by checkpoint (model hash) and LoRA, with Wilson 95% intervals.
--
-- adherence: the share of (image, axis) scores where the scorer's top value is the one
-- the prompt asked for, over every axis. lora lists the LoRAs an image was made with,
-- sorted, or (none); images counts the images made with it (failed renders excluded).
-- Compare rows of one model with and without a LoRA to see what the LoRA does; the
-- intervals say whether the gap is more than noise.
--
-- @needs scores, images
-- @sort model_name, model_hash, then lora
-- @param min_n int 1 hide combinations with fewer scores than this
WITH labelled AS (
  -- one row per image made: its checkpoint and LoRA set
  SELECT image_id, prompt_id, model_name, model_hash,
         CASE WHEN len(loras) = 0 THEN '(none)' ELSE array_to_string(list_sort(loras), ', ') END AS lora
  FROM images
  WHERE image_id <> ''
),
made AS (
  SELECT model_name, model_hash, lora, count(*)::INTEGER AS images
  FROM labelled
  GROUP BY model_name, model_hash, lora
),
counted AS (
  SELECT l.model_name, l.model_hash, l.lora,
         count(*)::INTEGER AS n,
         (count(*) FILTER (WHERE s.matched))::INTEGER AS successes,
         avg(s.p_target) AS mean_p_target
  FROM scores s
  JOIN labelled l ON l.image_id = s.image_id AND l.prompt_id = s.prompt_id
  GROUP BY l.model_name, l.model_hash, l.lora
),
rated AS (
  SELECT c.*, m.images, successes / n AS p, 1.96::DOUBLE AS z
  FROM counted c
  JOIN made m USING (model_name, model_hash, lora)
  WHERE n >= $min_n
)
SELECT model_name, model_hash, lora, images, n, successes,
       p AS adherence,
       greatest(0, (p + z*z/(2*n) - z*sqrt(p*(1-p)/n + z*z/(4*pow(n, 2)))) / (1 + z*z/n)) AS ci_low,
       least(1, (p + z*z/(2*n) + z*sqrt(p*(1-p)/n + z*z/(4*pow(n, 2)))) / (1 + z*z/n)) AS ci_high,
       mean_p_target
FROM rated
ORDER BY model_name, model_hash, lora
