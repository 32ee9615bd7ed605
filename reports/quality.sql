-- Blank, blurred and duplicate images per session and model.
--
-- blank: blank or uniform frames (quality.blank), black: all-black ones (the classic
-- fp16 VAE NaN failure), blurred: under the blur threshold, duplicates: images in a
-- near-duplicate group, duplicate_groups: how many such groups; flagged: anything
-- the score stage flagged. mean_blur is the blur measure's mean (higher is sharper).
--
-- @needs quality, images, prompts
-- @param session string % only sessions whose name matches this LIKE pattern
SELECT p.session,
       i.model_name,
       i.model_hash,
       count(*)::INTEGER AS images,
       (count(*) FILTER (WHERE q.blank))::INTEGER AS blank,
       (count(*) FILTER (WHERE q.black))::INTEGER AS black,
       (count(*) FILTER (WHERE q.blurred))::INTEGER AS blurred,
       (count(*) FILTER (WHERE q.duplicate_group IS NOT NULL))::INTEGER AS duplicates,
       count(DISTINCT q.duplicate_group)::INTEGER AS duplicate_groups,
       (count(*) FILTER (WHERE q.flagged))::INTEGER AS flagged,
       avg(q.blur) AS mean_blur
FROM quality q
JOIN images i ON i.image_id = q.image_id AND i.prompt_id = q.prompt_id
JOIN prompts p ON p.prompt_id = q.prompt_id
WHERE p.session LIKE $session
GROUP BY p.session, i.model_name, i.model_hash
ORDER BY p.session, i.model_name, i.model_hash
