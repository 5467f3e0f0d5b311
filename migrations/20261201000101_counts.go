package migrations

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
)

// Counters for reads at scale (issue 10), so that an experiment's results
// and progress, and a team's contact counts, are read from a few rows
// instead of counting a million:
//
//   - delivery_counts: deliveries per experiment, variant (the nil UUID for
//     those without one: the holdout, contacts waiting for a winner) and
//     status. Kept by triggers on deliveries, in the statement that changes
//     them, whatever code changes them: per row on SQLite; per statement on
//     PostgreSQL (transition tables), adding to a row of the connection's
//     own (shard = its backend pid), so that concurrent senders never wait
//     for each other's counter rows or deadlock on them. Readers add the
//     shards up.
//   - contact_counts: a team's contacts, unsubscribed, bounced and
//     suppressed (either). Unsubscribes, bounces and deletions are counted
//     by triggers; new contacts by the import that writes them (the one
//     place contacts are inserted), once per import, so that a million-row
//     import does not pay a trigger a row.
//
// Both start from the rows already there.
func init() {
	Migrations.MustRegister(upCounts, downCounts)
}

const nilUUID = "'00000000-0000-0000-0000-000000000000'"

func upCounts(ctx context.Context, db *bun.DB) error {
	pg := db.Dialect().Name() == dialect.PG
	qs := []string{
		`CREATE TABLE delivery_counts (
			experiment_id UUID NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
			variant_key   UUID NOT NULL,
			status        TEXT NOT NULL,
			shard         INTEGER NOT NULL,
			n             BIGINT NOT NULL,
			PRIMARY KEY (experiment_id, variant_key, status, shard)
		)`,
		`CREATE TABLE contact_counts (
			team_id      UUID NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
			shard        INTEGER NOT NULL,
			total        BIGINT NOT NULL DEFAULT 0,
			unsubscribed BIGINT NOT NULL DEFAULT 0,
			bounced      BIGINT NOT NULL DEFAULT 0,
			suppressed   BIGINT NOT NULL DEFAULT 0,
			PRIMARY KEY (team_id, shard)
		)`,
		// The contacts list pages through a team in id order.
		`CREATE INDEX IF NOT EXISTS contacts_team_id_id_idx ON contacts (team_id, id)`,
		`INSERT INTO delivery_counts (experiment_id, variant_key, status, shard, n)
			SELECT experiment_id, COALESCE(variant_id, ` + nilUUID + `), status, 0, count(*)
			FROM deliveries GROUP BY experiment_id, COALESCE(variant_id, ` + nilUUID + `), status`,
		`INSERT INTO contact_counts (team_id, shard, total, unsubscribed, bounced, suppressed)
			SELECT team_id, 0, count(*),
				sum(CASE WHEN unsubscribed_at IS NOT NULL THEN 1 ELSE 0 END),
				sum(CASE WHEN bounced_at IS NOT NULL THEN 1 ELSE 0 END),
				sum(CASE WHEN unsubscribed_at IS NOT NULL OR bounced_at IS NOT NULL THEN 1 ELSE 0 END)
			FROM contacts GROUP BY team_id`,
	}
	if pg {
		qs = append(qs, pgCountTriggers...)
	} else {
		qs = append(qs, sqliteCountTriggers...)
	}
	return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		for _, q := range qs {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("counts: %w", err)
			}
		}
		return nil
	})
}

func downCounts(ctx context.Context, db *bun.DB) error {
	qs := []string{
		`DROP TRIGGER IF EXISTS deliveries_count_ins ON deliveries`,
		`DROP TRIGGER IF EXISTS deliveries_count_upd ON deliveries`,
		`DROP TRIGGER IF EXISTS deliveries_count_del ON deliveries`,
		`DROP TRIGGER IF EXISTS contacts_count_upd ON contacts`,
		`DROP TRIGGER IF EXISTS contacts_count_del ON contacts`,
		`DROP FUNCTION IF EXISTS delivery_counts_ins()`,
		`DROP FUNCTION IF EXISTS delivery_counts_upd()`,
		`DROP FUNCTION IF EXISTS delivery_counts_del()`,
		`DROP FUNCTION IF EXISTS contact_counts_upd()`,
		`DROP FUNCTION IF EXISTS contact_counts_del()`,
	}
	if db.Dialect().Name() != dialect.PG {
		qs = []string{
			`DROP TRIGGER IF EXISTS deliveries_count_ins`, `DROP TRIGGER IF EXISTS deliveries_count_upd`,
			`DROP TRIGGER IF EXISTS deliveries_count_del`, `DROP TRIGGER IF EXISTS contacts_count_upd`,
			`DROP TRIGGER IF EXISTS contacts_count_del`,
		}
	}
	qs = append(qs, `DROP INDEX IF EXISTS contacts_team_id_id_idx`, `DROP TABLE contact_counts`, `DROP TABLE delivery_counts`)
	return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		for _, q := range qs {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("counts: %w", err)
			}
		}
		return nil
	})
}

var sqliteCountTriggers = []string{
	`CREATE TRIGGER deliveries_count_ins AFTER INSERT ON deliveries BEGIN
		INSERT INTO delivery_counts (experiment_id, variant_key, status, shard, n)
		VALUES (NEW.experiment_id, COALESCE(NEW.variant_id, ` + nilUUID + `), NEW.status, 0, 1)
		ON CONFLICT (experiment_id, variant_key, status, shard) DO UPDATE SET n = n + 1;
	END`,
	`CREATE TRIGGER deliveries_count_upd AFTER UPDATE OF status, variant_id ON deliveries
	WHEN OLD.status IS NOT NEW.status OR OLD.variant_id IS NOT NEW.variant_id BEGIN
		UPDATE delivery_counts SET n = n - 1 WHERE experiment_id = OLD.experiment_id
			AND variant_key = COALESCE(OLD.variant_id, ` + nilUUID + `) AND status = OLD.status AND shard = 0;
		INSERT INTO delivery_counts (experiment_id, variant_key, status, shard, n)
		VALUES (NEW.experiment_id, COALESCE(NEW.variant_id, ` + nilUUID + `), NEW.status, 0, 1)
		ON CONFLICT (experiment_id, variant_key, status, shard) DO UPDATE SET n = n + 1;
	END`,
	`CREATE TRIGGER deliveries_count_del AFTER DELETE ON deliveries BEGIN
		UPDATE delivery_counts SET n = n - 1 WHERE experiment_id = OLD.experiment_id
			AND variant_key = COALESCE(OLD.variant_id, ` + nilUUID + `) AND status = OLD.status AND shard = 0;
	END`,
	`CREATE TRIGGER contacts_count_upd AFTER UPDATE OF unsubscribed_at, bounced_at ON contacts
	WHEN (OLD.unsubscribed_at IS NULL) IS NOT (NEW.unsubscribed_at IS NULL) OR (OLD.bounced_at IS NULL) IS NOT (NEW.bounced_at IS NULL) BEGIN
		INSERT INTO contact_counts (team_id, shard, unsubscribed, bounced, suppressed)
		VALUES (NEW.team_id, 0,
			(NEW.unsubscribed_at IS NOT NULL) - (OLD.unsubscribed_at IS NOT NULL),
			(NEW.bounced_at IS NOT NULL) - (OLD.bounced_at IS NOT NULL),
			(NEW.unsubscribed_at IS NOT NULL OR NEW.bounced_at IS NOT NULL) - (OLD.unsubscribed_at IS NOT NULL OR OLD.bounced_at IS NOT NULL))
		ON CONFLICT (team_id, shard) DO UPDATE SET unsubscribed = unsubscribed + excluded.unsubscribed,
			bounced = bounced + excluded.bounced, suppressed = suppressed + excluded.suppressed;
	END`,
	`CREATE TRIGGER contacts_count_del AFTER DELETE ON contacts BEGIN
		UPDATE contact_counts SET total = total - 1,
			unsubscribed = unsubscribed - (OLD.unsubscribed_at IS NOT NULL),
			bounced = bounced - (OLD.bounced_at IS NOT NULL),
			suppressed = suppressed - (OLD.unsubscribed_at IS NOT NULL OR OLD.bounced_at IS NOT NULL)
		WHERE team_id = OLD.team_id AND shard = 0;
	END`,
}

var pgCountTriggers = []string{
	`CREATE FUNCTION delivery_counts_ins() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		INSERT INTO delivery_counts (experiment_id, variant_key, status, shard, n)
		SELECT experiment_id, COALESCE(variant_id, ` + nilUUID + `), status, pg_backend_pid(), count(*)
		FROM new_rows GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
		ON CONFLICT (experiment_id, variant_key, status, shard) DO UPDATE SET n = delivery_counts.n + EXCLUDED.n;
		RETURN NULL;
	END $$`,
	`CREATE TRIGGER deliveries_count_ins AFTER INSERT ON deliveries REFERENCING NEW TABLE AS new_rows
		FOR EACH STATEMENT EXECUTE FUNCTION delivery_counts_ins()`,
	`CREATE FUNCTION delivery_counts_upd() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		INSERT INTO delivery_counts (experiment_id, variant_key, status, shard, n)
		SELECT experiment_id, variant_key, status, pg_backend_pid(), sum(d) FROM (
			SELECT o.experiment_id, COALESCE(o.variant_id, ` + nilUUID + `) AS variant_key, o.status, -1 AS d
			FROM old_rows o JOIN new_rows n ON n.id = o.id
			WHERE o.status IS DISTINCT FROM n.status OR o.variant_id IS DISTINCT FROM n.variant_id
			UNION ALL
			SELECT n.experiment_id, COALESCE(n.variant_id, ` + nilUUID + `), n.status, 1
			FROM old_rows o JOIN new_rows n ON n.id = o.id
			WHERE o.status IS DISTINCT FROM n.status OR o.variant_id IS DISTINCT FROM n.variant_id
		) x GROUP BY 1, 2, 3 HAVING sum(d) <> 0 ORDER BY 1, 2, 3
		ON CONFLICT (experiment_id, variant_key, status, shard) DO UPDATE SET n = delivery_counts.n + EXCLUDED.n;
		RETURN NULL;
	END $$`,
	`CREATE TRIGGER deliveries_count_upd AFTER UPDATE ON deliveries REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
		FOR EACH STATEMENT EXECUTE FUNCTION delivery_counts_upd()`,
	// A deletion cascading from its experiment has nothing left to count.
	`CREATE FUNCTION delivery_counts_del() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		INSERT INTO delivery_counts (experiment_id, variant_key, status, shard, n)
		SELECT experiment_id, COALESCE(variant_id, ` + nilUUID + `), status, pg_backend_pid(), -count(*)
		FROM old_rows o WHERE EXISTS (SELECT 1 FROM experiments e WHERE e.id = o.experiment_id)
		GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
		ON CONFLICT (experiment_id, variant_key, status, shard) DO UPDATE SET n = delivery_counts.n + EXCLUDED.n;
		RETURN NULL;
	END $$`,
	`CREATE TRIGGER deliveries_count_del AFTER DELETE ON deliveries REFERENCING OLD TABLE AS old_rows
		FOR EACH STATEMENT EXECUTE FUNCTION delivery_counts_del()`,
	`CREATE FUNCTION contact_counts_upd() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		INSERT INTO contact_counts (team_id, shard, unsubscribed, bounced, suppressed)
		SELECT n.team_id, pg_backend_pid(),
			sum((n.unsubscribed_at IS NOT NULL)::int - (o.unsubscribed_at IS NOT NULL)::int),
			sum((n.bounced_at IS NOT NULL)::int - (o.bounced_at IS NOT NULL)::int),
			sum((n.unsubscribed_at IS NOT NULL OR n.bounced_at IS NOT NULL)::int - (o.unsubscribed_at IS NOT NULL OR o.bounced_at IS NOT NULL)::int)
		FROM old_rows o JOIN new_rows n ON n.id = o.id
		WHERE (o.unsubscribed_at IS NULL) <> (n.unsubscribed_at IS NULL) OR (o.bounced_at IS NULL) <> (n.bounced_at IS NULL)
		GROUP BY n.team_id ORDER BY n.team_id
		ON CONFLICT (team_id, shard) DO UPDATE SET unsubscribed = contact_counts.unsubscribed + EXCLUDED.unsubscribed,
			bounced = contact_counts.bounced + EXCLUDED.bounced, suppressed = contact_counts.suppressed + EXCLUDED.suppressed;
		RETURN NULL;
	END $$`,
	`CREATE TRIGGER contacts_count_upd AFTER UPDATE ON contacts REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
		FOR EACH STATEMENT EXECUTE FUNCTION contact_counts_upd()`,
	`CREATE FUNCTION contact_counts_del() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		INSERT INTO contact_counts (team_id, shard, total, unsubscribed, bounced, suppressed)
		SELECT team_id, pg_backend_pid(), -count(*),
			-sum((unsubscribed_at IS NOT NULL)::int), -sum((bounced_at IS NOT NULL)::int),
			-sum((unsubscribed_at IS NOT NULL OR bounced_at IS NOT NULL)::int)
		FROM old_rows o WHERE EXISTS (SELECT 1 FROM teams t WHERE t.id = o.team_id)
		GROUP BY team_id ORDER BY team_id
		ON CONFLICT (team_id, shard) DO UPDATE SET total = contact_counts.total + EXCLUDED.total,
			unsubscribed = contact_counts.unsubscribed + EXCLUDED.unsubscribed,
			bounced = contact_counts.bounced + EXCLUDED.bounced, suppressed = contact_counts.suppressed + EXCLUDED.suppressed;
		RETURN NULL;
	END $$`,
	`CREATE TRIGGER contacts_count_del AFTER DELETE ON contacts REFERENCING OLD TABLE AS old_rows
		FOR EACH STATEMENT EXECUTE FUNCTION contact_counts_del()`,
}
