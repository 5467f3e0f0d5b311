-- An experiment's deliveries by status (owner: experiments): whether any is
-- left to send (checked after every send batch) is a few index seeks, not a
-- walk over the experiment's sent deliveries.
CREATE INDEX IF NOT EXISTS deliveries_experiment_id_status_idx ON deliveries (experiment_id, status);
