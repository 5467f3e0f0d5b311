package migrations

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// Clicks are classified and rolled up after the redirect, by a projector
// that reads the click ledger in order (tracking.Projector):
//
//   - click_projection is its state: how far it has read the ledger
//     (position_xid, position_seq), which process holds the lease to
//     project (holder, lease_until), and the time up to which every
//     recorded click is in the rollups (as_of);
//   - variant_clicks is the rollup that results read: per variant, the
//     deliveries with a human click, human clicks and automated clicks.
//     It starts from the clicks already classified.
//
// clicks becomes the projector's classified view. Nothing reads it by
// experiment and variant any more (results read variant_clicks), so that
// index goes: one index less to maintain per click.
func init() {
	Migrations.MustRegister(upClickProjection, downClickProjection)
}

func upClickProjection(ctx context.Context, db *bun.DB) error {
	return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		now := time.Now().UTC()
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{sql: `CREATE TABLE click_projection (
				name         TEXT PRIMARY KEY,
				position_xid BIGINT NOT NULL DEFAULT 0,
				position_seq BIGINT NOT NULL DEFAULT 0,
				holder       TEXT NOT NULL DEFAULT '',
				lease_until  TIMESTAMPTZ,
				as_of        TIMESTAMPTZ NOT NULL,
				projected    BIGINT NOT NULL DEFAULT 0,
				updated_at   TIMESTAMPTZ NOT NULL
			)`},
			{sql: `INSERT INTO click_projection (name, as_of, updated_at) VALUES ('clicks', ?, ?)`, args: []any{now, now}},
			{sql: `CREATE TABLE variant_clicks (
				variant_id       UUID PRIMARY KEY,
				experiment_id    UUID NOT NULL,
				human_clickers   BIGINT NOT NULL DEFAULT 0,
				clicks           BIGINT NOT NULL DEFAULT 0,
				automated_clicks BIGINT NOT NULL DEFAULT 0
			)`},
			{sql: `CREATE INDEX IF NOT EXISTS variant_clicks_experiment_id_idx ON variant_clicks (experiment_id)`},
			{sql: `DROP INDEX IF EXISTS clicks_experiment_id_variant_id_idx`},
			{sql: `INSERT INTO variant_clicks (variant_id, experiment_id, human_clickers, clicks, automated_clicks)
				SELECT variant_id, experiment_id,
					count(DISTINCT CASE WHEN NOT automated THEN delivery_id END),
					sum(CASE WHEN automated THEN 0 ELSE 1 END),
					sum(CASE WHEN automated THEN 1 ELSE 0 END)
				FROM clicks GROUP BY variant_id, experiment_id`},
		} {
			if _, err := tx.NewRaw(q.sql, q.args...).Exec(ctx); err != nil {
				return fmt.Errorf("click projection: %w", err)
			}
		}
		return nil
	})
}

func downClickProjection(ctx context.Context, db *bun.DB) error {
	return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		for _, q := range []string{`DROP TABLE variant_clicks`, `DROP TABLE click_projection`,
			`CREATE INDEX IF NOT EXISTS clicks_experiment_id_variant_id_idx ON clicks (experiment_id, variant_id)`} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		return nil
	})
}
