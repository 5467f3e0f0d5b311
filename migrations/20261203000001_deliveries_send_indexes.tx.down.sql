DROP INDEX IF EXISTS deliveries_pending_idx;
--bun:split
CREATE INDEX IF NOT EXISTS deliveries_experiment_id_status_idx ON deliveries (experiment_id, status);
--bun:split
DROP INDEX IF EXISTS deliveries_contact_id_idx;
--bun:split
CREATE INDEX IF NOT EXISTS deliveries_contact_id_idx ON deliveries (contact_id, sent_at);
