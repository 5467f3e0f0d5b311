ALTER TABLE deliveries DROP COLUMN job_attempt;
--bun:split
ALTER TABLE deliveries DROP COLUMN job_id;
--bun:split
ALTER TABLE experiments DROP COLUMN assign_done;
--bun:split
ALTER TABLE experiments DROP COLUMN assigned;
--bun:split
ALTER TABLE experiments DROP COLUMN assign_batches;
--bun:split
ALTER TABLE experiments DROP COLUMN assign_after;
