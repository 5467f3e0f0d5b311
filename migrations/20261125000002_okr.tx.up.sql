ALTER TABLE teams ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'UTC';
--bun:split
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
-- The click ledger's weekly rollup: one row per person, experiment and ISO
-- week (in the team's time zone) with at least one human click.
CREATE TABLE weekly_clickers (
    experiment_id UUID NOT NULL,
    week          TEXT NOT NULL,
    contact_id    UUID NOT NULL,
    PRIMARY KEY (experiment_id, week, contact_id)
);
--bun:split
CREATE INDEX IF NOT EXISTS weekly_clickers_week_idx ON weekly_clickers (week, experiment_id);
--bun:split
-- Counters by variant and send week (ISO week of sent_at in the team's time
-- zone): messages sent, and how many of them a person has clicked so far.
CREATE TABLE variant_weekly (
    experiment_id UUID NOT NULL,
    variant_id    UUID NOT NULL,
    week          TEXT NOT NULL,
    sent          INTEGER NOT NULL DEFAULT 0,
    clicked       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (variant_id, week)
);
--bun:split
CREATE INDEX IF NOT EXISTS variant_weekly_experiment_id_idx ON variant_weekly (experiment_id, week);
--bun:split
CREATE TABLE objectives (
    id           UUID PRIMARY KEY,
    team_id      UUID NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    title        TEXT NOT NULL,
    period_label TEXT NOT NULL,
    period_start TEXT NOT NULL,
    period_end   TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('committed', 'aspirational')),
    created_at   TIMESTAMPTZ NOT NULL
);
--bun:split
CREATE INDEX IF NOT EXISTS objectives_team_id_idx ON objectives (team_id, period_start);
--bun:split
CREATE TABLE key_results (
    id             UUID PRIMARY KEY,
    objective_id   UUID NOT NULL REFERENCES objectives (id) ON DELETE CASCADE,
    team_id        UUID NOT NULL,
    position       INTEGER NOT NULL,
    title          TEXT NOT NULL,
    type           TEXT NOT NULL CHECK (type IN ('metric', 'threshold', 'milestone', 'baseline')),
    start_value    DOUBLE PRECISION,
    target_value   DOUBLE PRECISION,
    comparison     TEXT NOT NULL DEFAULT '' CHECK (comparison IN ('', 'at_or_above', 'at_or_below')),
    unit           TEXT NOT NULL DEFAULT '',
    source         TEXT NOT NULL CHECK (source IN ('manual', 'clicks', 'ctr', 'events')),
    event_name     TEXT NOT NULL DEFAULT '',
    event_agg      TEXT NOT NULL DEFAULT 'count' CHECK (event_agg IN ('count', 'sum')),
    attribution_window_seconds BIGINT NOT NULL DEFAULT 604800,
    created_at     TIMESTAMPTZ NOT NULL
);
--bun:split
CREATE TABLE key_result_experiments (
    key_result_id UUID NOT NULL REFERENCES key_results (id) ON DELETE CASCADE,
    experiment_id UUID NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
    PRIMARY KEY (key_result_id, experiment_id)
);
--bun:split
CREATE TABLE check_ins (
    id            UUID PRIMARY KEY,
    key_result_id UUID NOT NULL REFERENCES key_results (id) ON DELETE CASCADE,
    week          TEXT NOT NULL,
    value         DOUBLE PRECISION,
    confidence    INTEGER CHECK (confidence BETWEEN 0 AND 10),
    note          TEXT NOT NULL DEFAULT '',
    created_at    TIMESTAMPTZ NOT NULL,
    UNIQUE (key_result_id, week)
);
--bun:split
-- Weekly values of key results for weeks before last week, computed once:
-- the current and the previous week are always recomputed (late data).
CREATE TABLE kr_snapshots (
    key_result_id UUID NOT NULL REFERENCES key_results (id) ON DELETE CASCADE,
    week          TEXT NOT NULL,
    value         DOUBLE PRECISION,
    computed_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (key_result_id, week)
);
--bun:split
CREATE TABLE events (
    id          UUID PRIMARY KEY,
    team_id     UUID NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    contact_id  UUID,
    value       DOUBLE PRECISION NOT NULL DEFAULT 1,
    occurred_at TIMESTAMPTZ NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);
--bun:split
CREATE INDEX IF NOT EXISTS events_team_id_name_occurred_at_idx ON events (team_id, name, occurred_at);
--bun:split
CREATE TABLE allocation_categories (
    id           UUID PRIMARY KEY,
    team_id      UUID NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    name         TEXT NOT NULL,
    elective     BOOLEAN NOT NULL,
    target_share DOUBLE PRECISION,
    UNIQUE (team_id, name)
);
--bun:split
CREATE TABLE allocation_responses (
    id         UUID PRIMARY KEY,
    team_id    UUID NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    member_id  UUID NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    week       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    UNIQUE (member_id, week)
);
--bun:split
CREATE TABLE allocation_shares (
    response_id UUID NOT NULL REFERENCES allocation_responses (id) ON DELETE CASCADE,
    category_id UUID NOT NULL REFERENCES allocation_categories (id) ON DELETE CASCADE,
    percent     INTEGER NOT NULL CHECK (percent BETWEEN 0 AND 100),
    PRIMARY KEY (response_id, category_id)
);
