-- Launch assigns the audience in the background (owner: experiments): the
-- assignment's position (the last contact id assigned, the send batches
-- numbered so far), how many contacts it has assigned, and whether it is
-- done. Experiments launched before this migration were assigned whole.
ALTER TABLE experiments ADD COLUMN assign_after UUID;
--bun:split
ALTER TABLE experiments ADD COLUMN assign_batches INTEGER NOT NULL DEFAULT 0;
--bun:split
ALTER TABLE experiments ADD COLUMN assigned INTEGER NOT NULL DEFAULT 0;
--bun:split
ALTER TABLE experiments ADD COLUMN assign_done BOOLEAN NOT NULL DEFAULT TRUE;
--bun:split
-- A delivery being sent names the River job (and its attempt) that claimed
-- it (owner: experiments): outcomes only touch rows their job still owns, and
-- a retried job tells its own unanswered message from the never attempted.
ALTER TABLE deliveries ADD COLUMN job_id BIGINT;
--bun:split
ALTER TABLE deliveries ADD COLUMN job_attempt INTEGER NOT NULL DEFAULT 0;
--bun:split
UPDATE experiments SET assigned = (SELECT count(*) FROM deliveries WHERE deliveries.experiment_id = experiments.id) WHERE launched_at IS NOT NULL;
