-- Going back restores the old tables' shape: members come back from the
-- memberships of users (a user's id is the member id in its first team; in
-- other teams it cannot be, so those memberships and their allocation
-- answers are not carried back).
CREATE TABLE members (
    id         UUID PRIMARY KEY,
    team_id    UUID NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    email      TEXT NOT NULL,
    email_key  TEXT NOT NULL,
    name       TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL,
    UNIQUE (team_id, email_key)
);
--bun:split
INSERT INTO members (id, team_id, email, email_key, name, created_at)
SELECT u.id, ms.team_id, u.email, u.email_key, u.name, ms.created_at
FROM memberships ms JOIN users u ON u.id = ms.user_id
WHERE NOT EXISTS (SELECT 1 FROM memberships m2 WHERE m2.user_id = ms.user_id
                  AND (m2.created_at < ms.created_at OR (m2.created_at = ms.created_at AND m2.team_id < ms.team_id)));
--bun:split
CREATE TABLE allocation_responses_v1 (
    id         UUID PRIMARY KEY,
    team_id    UUID NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    member_id  UUID NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    week       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    UNIQUE (member_id, week)
);
--bun:split
INSERT INTO allocation_responses_v1 (id, team_id, member_id, week, created_at, updated_at)
SELECT r.id, r.team_id, r.user_id, r.week, r.created_at, r.updated_at FROM allocation_responses r
WHERE EXISTS (SELECT 1 FROM members m WHERE m.id = r.user_id AND m.team_id = r.team_id);
--bun:split
CREATE TABLE allocation_shares_v1 (
    response_id UUID NOT NULL REFERENCES allocation_responses_v1 (id) ON DELETE CASCADE,
    category_id UUID NOT NULL REFERENCES allocation_categories (id) ON DELETE CASCADE,
    percent     INTEGER NOT NULL CHECK (percent BETWEEN 0 AND 100),
    PRIMARY KEY (response_id, category_id)
);
--bun:split
INSERT INTO allocation_shares_v1 (response_id, category_id, percent)
SELECT s.response_id, s.category_id, s.percent FROM allocation_shares s
WHERE EXISTS (SELECT 1 FROM allocation_responses_v1 r WHERE r.id = s.response_id);
--bun:split
DROP TABLE allocation_shares;
--bun:split
DROP TABLE allocation_responses;
--bun:split
ALTER TABLE allocation_responses_v1 RENAME TO allocation_responses;
--bun:split
ALTER TABLE allocation_shares_v1 RENAME TO allocation_shares;
--bun:split
DROP TABLE sessions;
--bun:split
DROP TABLE memberships;
--bun:split
DROP TABLE users;
