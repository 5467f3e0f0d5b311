-- The processes that send (owner: experiments): each one notes itself here
-- every few seconds, and divides SLICELAB_SEND_RATE by how many noted
-- themselves lately, so that the rate holds across instances.
CREATE TABLE send_instances (
    id      TEXT PRIMARY KEY,
    seen_at TIMESTAMPTZ NOT NULL
);
