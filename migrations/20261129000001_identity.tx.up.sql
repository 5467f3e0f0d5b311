-- One identity model (owner: experiments): users, their memberships of teams
-- with a role, and their sign-in sessions. The members of a team are its
-- users; they answer the allocation survey and get the Monday digest.
CREATE TABLE users (
    id            UUID PRIMARY KEY,
    email         TEXT NOT NULL,
    email_key     TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL DEFAULT '',
    created_at    TIMESTAMPTZ NOT NULL
);
--bun:split
CREATE TABLE memberships (
    team_id    UUID NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT NOT NULL CHECK (role IN ('viewer', 'editor', 'admin')),
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (team_id, user_id)
);
--bun:split
CREATE INDEX IF NOT EXISTS memberships_user_id_idx ON memberships (user_id);
--bun:split
CREATE TABLE sessions (
    id           UUID PRIMARY KEY,
    token_hash   TEXT NOT NULL UNIQUE,
    user_id      UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    team_id      UUID REFERENCES teams (id) ON DELETE SET NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL
);
--bun:split
CREATE INDEX IF NOT EXISTS sessions_user_id_idx ON sessions (user_id);
--bun:split
-- Every member becomes a user (one per address, across teams; the earliest
-- member row gives the user its id) and a viewer of its team.
INSERT INTO users (id, email, email_key, name, password_hash, created_at)
SELECT m.id, m.email, m.email_key, m.name, '', m.created_at FROM members m
WHERE NOT EXISTS (SELECT 1 FROM members m2 WHERE m2.email_key = m.email_key
                  AND (m2.created_at < m.created_at OR (m2.created_at = m.created_at AND m2.id < m.id)));
--bun:split
INSERT INTO memberships (team_id, user_id, role, created_at)
SELECT m.team_id, u.id, 'viewer', m.created_at FROM members m JOIN users u ON u.email_key = m.email_key;
--bun:split
-- Allocation answers now belong to a user within a team (owner: okr).
CREATE TABLE allocation_responses_v2 (
    id         UUID PRIMARY KEY,
    team_id    UUID NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    week       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    UNIQUE (team_id, user_id, week)
);
--bun:split
INSERT INTO allocation_responses_v2 (id, team_id, user_id, week, created_at, updated_at)
SELECT r.id, r.team_id, u.id, r.week, r.created_at, r.updated_at
FROM allocation_responses r JOIN members m ON m.id = r.member_id JOIN users u ON u.email_key = m.email_key;
--bun:split
CREATE TABLE allocation_shares_v2 (
    response_id UUID NOT NULL REFERENCES allocation_responses_v2 (id) ON DELETE CASCADE,
    category_id UUID NOT NULL REFERENCES allocation_categories (id) ON DELETE CASCADE,
    percent     INTEGER NOT NULL CHECK (percent BETWEEN 0 AND 100),
    PRIMARY KEY (response_id, category_id)
);
--bun:split
INSERT INTO allocation_shares_v2 (response_id, category_id, percent)
SELECT response_id, category_id, percent FROM allocation_shares;
--bun:split
DROP TABLE allocation_shares;
--bun:split
DROP TABLE allocation_responses;
--bun:split
DROP TABLE members;
--bun:split
ALTER TABLE allocation_responses_v2 RENAME TO allocation_responses;
--bun:split
ALTER TABLE allocation_shares_v2 RENAME TO allocation_shares;
