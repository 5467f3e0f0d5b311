-- Each experiment decides with one statistical engine (owner: experiments).
ALTER TABLE experiments ADD COLUMN engine TEXT NOT NULL DEFAULT 'bayesian' CHECK (engine IN ('bayesian', 'frequentist'));
--bun:split
-- Per-team sender (owner: experiments): empty means the service's SLICELAB_MAIL_FROM.
ALTER TABLE teams ADD COLUMN mail_from_name TEXT NOT NULL DEFAULT '';
--bun:split
ALTER TABLE teams ADD COLUMN mail_from_address TEXT NOT NULL DEFAULT '';
--bun:split
ALTER TABLE teams ADD COLUMN reply_to TEXT NOT NULL DEFAULT '';
--bun:split
-- Objectives and key results can be archived (owner: okr).
ALTER TABLE objectives ADD COLUMN archived_at TIMESTAMPTZ;
--bun:split
ALTER TABLE key_results ADD COLUMN archived_at TIMESTAMPTZ;
--bun:split
-- Categories say what belongs in them (owner: okr); the default ones are filled in.
ALTER TABLE allocation_categories ADD COLUMN description TEXT NOT NULL DEFAULT '';
--bun:split
UPDATE allocation_categories SET description = 'incidents and fires, on-call, security fixes, customer bugs, routine operations and upkeep' WHERE position = 0 AND NOT elective;
--bun:split
UPDATE allocation_categories SET description = 'new product: new capabilities, features and platforms that win new customers or grow existing ones' WHERE position = 1 AND elective;
--bun:split
UPDATE allocation_categories SET description = 'existing product: customer-requested improvements, performance, scale, reliability, usability' WHERE position = 2 AND elective;
--bun:split
UPDATE allocation_categories SET description = 'tooling, tech debt, test automation, automation of toil, faster builds and releases' WHERE position = 3 AND elective;
