ALTER TABLE allocation_categories DROP COLUMN description;
--bun:split
ALTER TABLE key_results DROP COLUMN archived_at;
--bun:split
ALTER TABLE objectives DROP COLUMN archived_at;
--bun:split
ALTER TABLE teams DROP COLUMN reply_to;
--bun:split
ALTER TABLE teams DROP COLUMN mail_from_address;
--bun:split
ALTER TABLE teams DROP COLUMN mail_from_name;
--bun:split
ALTER TABLE experiments DROP COLUMN engine;
