DROP TABLE IF EXISTS allocation_shares;
--bun:split
DROP TABLE IF EXISTS allocation_responses;
--bun:split
DROP TABLE IF EXISTS allocation_categories;
--bun:split
DROP TABLE IF EXISTS events;
--bun:split
DROP TABLE IF EXISTS kr_snapshots;
--bun:split
DROP TABLE IF EXISTS check_ins;
--bun:split
DROP TABLE IF EXISTS key_result_experiments;
--bun:split
DROP TABLE IF EXISTS key_results;
--bun:split
DROP TABLE IF EXISTS objectives;
--bun:split
DROP TABLE IF EXISTS variant_weekly;
--bun:split
DROP TABLE IF EXISTS weekly_clickers;
--bun:split
DROP TABLE IF EXISTS members;
--bun:split
ALTER TABLE teams DROP COLUMN time_zone;
