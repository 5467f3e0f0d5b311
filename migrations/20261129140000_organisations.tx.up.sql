-- An organisation above teams (owner: experiments). The embedded default has
-- one, with a fixed id; every team belongs to one organisation.
CREATE TABLE organisations (
    id         UUID PRIMARY KEY,
    slug       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
--bun:split
INSERT INTO organisations (id, slug, name, created_at)
SELECT '00000000-0000-7000-8000-000000000001', 'default', 'Organisation', min(created_at) FROM teams
HAVING count(*) > 0;
--bun:split
ALTER TABLE teams ADD COLUMN org_id UUID REFERENCES organisations (id);
--bun:split
UPDATE teams SET org_id = '00000000-0000-7000-8000-000000000001';
--bun:split
CREATE INDEX IF NOT EXISTS teams_org_id_idx ON teams (org_id);
--bun:split
-- Org admins see every team of the organisation: its aggregates, never a
-- person's allocation answers (owner: experiments).
CREATE TABLE org_admins (
    org_id     UUID NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
--bun:split
-- API tokens of an organisation, for its reports (owner: experiments).
CREATE TABLE org_tokens (
    id           UUID PRIMARY KEY,
    org_id       UUID NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    name         TEXT NOT NULL DEFAULT '',
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ
);
--bun:split
-- A member's function in a team: product, engineering, design, … (owner: experiments).
ALTER TABLE memberships ADD COLUMN function TEXT NOT NULL DEFAULT '';
--bun:split
-- Shared objectives (owner: okr): an objective is owned by its team and can be
-- shared with other teams of the organisation, and has owners from several functions.
CREATE TABLE objective_teams (
    objective_id UUID NOT NULL REFERENCES objectives (id) ON DELETE CASCADE,
    team_id      UUID NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    PRIMARY KEY (objective_id, team_id)
);
--bun:split
CREATE INDEX IF NOT EXISTS objective_teams_team_id_idx ON objective_teams (team_id);
--bun:split
CREATE TABLE objective_owners (
    objective_id UUID NOT NULL REFERENCES objectives (id) ON DELETE CASCADE,
    user_id      UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    PRIMARY KEY (objective_id, user_id)
);
--bun:split
-- Outcome or output (owner: okr): '' follows the rule; an override gives its reason.
ALTER TABLE key_results ADD COLUMN kind TEXT NOT NULL DEFAULT '' CHECK (kind IN ('', 'outcome', 'output'));
--bun:split
ALTER TABLE key_results ADD COLUMN kind_reason TEXT NOT NULL DEFAULT '';
--bun:split
-- Who checked in (owner: okr): a user, or an API token named in author.
ALTER TABLE check_ins ADD COLUMN user_id UUID;
--bun:split
ALTER TABLE check_ins ADD COLUMN author TEXT NOT NULL DEFAULT '';
