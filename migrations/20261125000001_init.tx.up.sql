CREATE TABLE teams (
    id         UUID PRIMARY KEY,
    slug       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
--bun:split
CREATE TABLE api_tokens (
    id         UUID PRIMARY KEY,
    team_id    UUID NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    role       TEXT NOT NULL CHECK (role IN ('viewer', 'editor', 'admin')),
    token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL
);
--bun:split
CREATE TABLE contacts (
    id              UUID PRIMARY KEY,
    team_id         UUID NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    email           TEXT NOT NULL,
    email_key       TEXT NOT NULL,
    name            TEXT NOT NULL DEFAULT '',
    attributes      TEXT NOT NULL DEFAULT '{}',
    tags            TEXT NOT NULL DEFAULT '[]',
    unsubscribed_at TIMESTAMPTZ,
    bounced_at      TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL,
    UNIQUE (team_id, email_key)
);
--bun:split
CREATE TABLE contact_tags (
    contact_id UUID NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    team_id    UUID NOT NULL,
    tag        TEXT NOT NULL,
    PRIMARY KEY (contact_id, tag)
);
--bun:split
CREATE INDEX IF NOT EXISTS contact_tags_team_id_tag_idx ON contact_tags (team_id, tag);
--bun:split
CREATE TABLE experiments (
    id            UUID PRIMARY KEY,
    team_id       UUID NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    hypothesis    TEXT NOT NULL DEFAULT '',
    initiative    TEXT NOT NULL DEFAULT '',
    status        TEXT NOT NULL CHECK (status IN ('draft', 'scheduled', 'running', 'paused', 'completed', 'cancelled')),
    holdout       DOUBLE PRECISION NOT NULL,
    audience_tags TEXT NOT NULL DEFAULT '[]',
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    launched_at   TIMESTAMPTZ,
    completed_at  TIMESTAMPTZ,
    scheduled_at  TIMESTAMPTZ,
    paused_at     TIMESTAMPTZ,
    cancelled_at  TIMESTAMPTZ,
    -- test-then-winner: a test share gets the variants, the rest waits for the winner
    test_share          DOUBLE PRECISION,
    winner_wait_seconds BIGINT NOT NULL DEFAULT 0,
    winner_min_per_arm  INTEGER NOT NULL DEFAULT 100,
    winner_min_chance   DOUBLE PRECISION NOT NULL DEFAULT 0.95,
    winner_fallback     TEXT NOT NULL DEFAULT 'control' CHECK (winner_fallback IN ('control', 'none')),
    winner_variant_id   UUID,
    winner_reason       TEXT NOT NULL DEFAULT '',
    winner_picked_at    TIMESTAMPTZ,
    -- viability of the slice
    viability_metric     TEXT NOT NULL DEFAULT '' CHECK (viability_metric IN ('', 'ctr', 'lift', 'event_rate')),
    viability_threshold  DOUBLE PRECISION NOT NULL DEFAULT 0,
    viability_min_chance DOUBLE PRECISION NOT NULL DEFAULT 0.95,
    viability_min_sample INTEGER NOT NULL DEFAULT 100
);
--bun:split
CREATE INDEX IF NOT EXISTS experiments_team_id_idx ON experiments (team_id, created_at);
--bun:split
CREATE INDEX IF NOT EXISTS experiments_status_idx ON experiments (status);
--bun:split
CREATE TABLE variants (
    id              UUID PRIMARY KEY,
    experiment_id   UUID NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
    position        INTEGER NOT NULL,
    name            TEXT NOT NULL,
    weight          DOUBLE PRECISION NOT NULL,
    control         BOOLEAN NOT NULL,
    subject         TEXT NOT NULL,
    html_body       TEXT NOT NULL,
    text_body       TEXT NOT NULL,
    html_compiled   TEXT NOT NULL,
    text_compiled   TEXT NOT NULL,
    UNIQUE (experiment_id, name)
);
--bun:split
CREATE TABLE links (
    variant_id    UUID NOT NULL REFERENCES variants (id) ON DELETE CASCADE,
    idx           INTEGER NOT NULL,
    experiment_id UUID NOT NULL,
    url           TEXT NOT NULL,
    PRIMARY KEY (variant_id, idx)
);
--bun:split
CREATE TABLE deliveries (
    id            UUID PRIMARY KEY,
    experiment_id UUID NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
    contact_id    UUID NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    variant_id    UUID REFERENCES variants (id),
    batch         INTEGER NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'suppressed', 'held_out', 'waiting', 'cancelled')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT NOT NULL DEFAULT '',
    message_id    TEXT NOT NULL DEFAULT '',
    sent_at       TIMESTAMPTZ,
    first_human_click_at TIMESTAMPTZ,
    updated_at    TIMESTAMPTZ NOT NULL,
    UNIQUE (experiment_id, contact_id)
);
--bun:split
CREATE INDEX IF NOT EXISTS deliveries_experiment_id_batch_idx ON deliveries (experiment_id, batch);
--bun:split
CREATE INDEX IF NOT EXISTS deliveries_contact_id_idx ON deliveries (contact_id, sent_at);
--bun:split
CREATE INDEX IF NOT EXISTS deliveries_experiment_id_sent_at_idx ON deliveries (experiment_id, sent_at, first_human_click_at);
--bun:split
CREATE TABLE clicks (
    id            UUID PRIMARY KEY,
    delivery_id   UUID NOT NULL,
    experiment_id UUID NOT NULL,
    variant_id    UUID NOT NULL,
    contact_id    UUID NOT NULL,
    link_idx      INTEGER NOT NULL,
    clicked_at    TIMESTAMPTZ NOT NULL,
    method        TEXT NOT NULL,
    user_agent    TEXT NOT NULL,
    ip            TEXT NOT NULL,
    automated     BOOLEAN NOT NULL,
    reason        TEXT NOT NULL DEFAULT ''
);
--bun:split
CREATE INDEX IF NOT EXISTS clicks_experiment_id_variant_id_idx ON clicks (experiment_id, variant_id);
--bun:split
CREATE INDEX IF NOT EXISTS clicks_delivery_id_idx ON clicks (delivery_id, clicked_at);
