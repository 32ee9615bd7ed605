-- Blank, blurred and duplicate images per session and model.
--
-- images: the images made (failed renders excluded), scored or not. blank: what the
-- sessions report counts as blank too: a frame the backend returned blank
-- (images.status) or that the score stage found blank or uniform (quality.blank).
-- black: all-black ones (the classic fp16 VAE NaN failure), blurred: under the blur
-- threshold. Every image names its
-- duplicate_group (its perceptual hash); a group with more than one image holds
-- duplicates. duplicates counts the extra copies (all but the first image of each
-- group, by image_id, across all sessions), duplicate_groups the groups with more than
-- one image that have a member here. flagged: anything the score stage flagged.
-- mean_blur is the blur measure's mean (higher is sharper).
--
-- @needs quality, images, prompts
-- @sort session, then model_name and model_hash
-- @param session string % only sessions whose name matches this LIKE pattern
WITH grouped AS (
  SELECT *,
         count(*) OVER (PARTITION BY duplicate_group) AS group_size,
         row_number() OVER (PARTITION BY duplicate_group ORDER BY image_id) AS place_in_group
  FROM quality
)
SELECT p.session,
       i.model_name,
       i.model_hash,
       count(*)::INTEGER AS images,
       (count(*) FILTER (WHERE q.blank OR i.status = 'blank'))::INTEGER AS blank,
       (count(*) FILTER (WHERE q.black))::INTEGER AS black,
       (count(*) FILTER (WHERE q.blurred))::INTEGER AS blurred,
       (count(*) FILTER (WHERE q.duplicate_group IS NOT NULL AND q.place_in_group > 1))::INTEGER AS duplicates,
       (count(DISTINCT q.duplicate_group) FILTER (WHERE q.group_size > 1))::INTEGER AS duplicate_groups,
       (count(*) FILTER (WHERE q.flagged))::INTEGER AS flagged,
       avg(q.blur) AS mean_blur
FROM images i
JOIN prompts p ON p.prompt_id = i.prompt_id
LEFT JOIN grouped q ON q.image_id = i.image_id AND q.prompt_id = i.prompt_id
WHERE i.image_id <> '' AND i.status <> 'failed' AND p.session LIKE $session
GROUP BY p.session, i.model_name, i.model_hash
ORDER BY p.session, i.model_name, i.model_hash
