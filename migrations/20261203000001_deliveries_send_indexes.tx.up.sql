-- Fewer index writes per message sent (owner: experiments). Marking a
-- delivery sent used to move it in two indexes as well as in the table:
-- (experiment_id, status), where its entry left the "sending" run for a
-- place among all the experiment's sent ones, and (contact_id, sent_at),
-- where its entry sat on the page of its contact. Both are pages of their
-- own for nearly every message, written again by every commit of outcomes
-- (SQLite writes whole pages to its log).
--
-- The status index now holds only the deliveries still to send or wait for
-- (a partial index): a message sent leaves it, and enters nothing. Its
-- condition is written as SQLite needs it to use the index: a query's
-- WHERE must repeat it, or name one of its statuses (experiments.pendingWhere).
-- batch is in it for the send jobs' claims. The contact index keeps
-- contact_id only: the cool-down and a contact's record read few rows per
-- contact anyway.
DROP INDEX IF EXISTS deliveries_experiment_id_status_idx;
--bun:split
CREATE INDEX IF NOT EXISTS deliveries_pending_idx ON deliveries (experiment_id, status, batch)
    WHERE status = 'queued' OR status = 'sending' OR status = 'waiting';
--bun:split
DROP INDEX IF EXISTS deliveries_contact_id_idx;
--bun:split
CREATE INDEX IF NOT EXISTS deliveries_contact_id_idx ON deliveries (contact_id);
