DROP INDEX IF EXISTS deliveries_experiment_id_status_idx;
