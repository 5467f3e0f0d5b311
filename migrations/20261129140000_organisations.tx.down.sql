ALTER TABLE check_ins DROP COLUMN author;
--bun:split
ALTER TABLE check_ins DROP COLUMN user_id;
--bun:split
ALTER TABLE key_results DROP COLUMN kind_reason;
--bun:split
ALTER TABLE key_results DROP COLUMN kind;
--bun:split
DROP TABLE objective_owners;
--bun:split
DROP TABLE objective_teams;
--bun:split
ALTER TABLE memberships DROP COLUMN function;
--bun:split
DROP TABLE org_tokens;
--bun:split
DROP TABLE org_admins;
--bun:split
DROP INDEX IF EXISTS teams_org_id_idx;
--bun:split
ALTER TABLE teams DROP COLUMN org_id;
--bun:split
DROP TABLE organisations;
