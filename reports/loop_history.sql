-- The rounds of the self-improvement loop: adherence before and after each round's LoRA, and the verdict.
--
-- One row per round from the loop's state table. change = adherence_after -
-- adherence_before (the benchmark's candidate minus baseline); best_so_far is the
-- best adherence reached up to that round, so a flat line means the loop has stopped
-- helping. minutes is the round's wall time (empty while it runs or after a kill);
-- target is the Axis=value a targeted round trained for.
--
-- @needs loop_rounds
-- @sort round
SELECT round::INTEGER AS round,
       started_at,
       finished_at,
       round(date_diff('second', TRY_CAST(started_at AS TIMESTAMP), TRY_CAST(finished_at AS TIMESTAMP)) / 60.0, 1) AS minutes,
       target,
       lora,
       adherence_before,
       adherence_after,
       adherence_after - adherence_before AS change,
       verdict,
       reason,
       array_to_string(promoted, ', ') AS promoted,
       max(greatest(adherence_before, adherence_after)) OVER (ORDER BY round) AS best_so_far
FROM loop_rounds
ORDER BY round
