package migrations

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"
)

// Two more rollups of the projector, so that the results page never scans
// the clicks: per tracked link of a variant, human and automated clicks
// (link_clicks); per variant, the automated clicks by the reason they were
// set apart (automated_reasons). Both start from the clicks already
// classified.
func init() {
	Migrations.MustRegister(upLinkClicks, downLinkClicks)
}

func upLinkClicks(ctx context.Context, db *bun.DB) error {
	return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		for _, q := range []string{
			`CREATE TABLE link_clicks (
				variant_id       UUID NOT NULL,
				link_idx         INTEGER NOT NULL,
				experiment_id    UUID NOT NULL,
				clicks           BIGINT NOT NULL DEFAULT 0,
				automated_clicks BIGINT NOT NULL DEFAULT 0,
				PRIMARY KEY (variant_id, link_idx)
			)`,
			`CREATE INDEX IF NOT EXISTS link_clicks_experiment_id_idx ON link_clicks (experiment_id)`,
			`CREATE TABLE automated_reasons (
				variant_id    UUID NOT NULL,
				reason        TEXT NOT NULL,
				experiment_id UUID NOT NULL,
				clicks        BIGINT NOT NULL DEFAULT 0,
				PRIMARY KEY (variant_id, reason)
			)`,
			`CREATE INDEX IF NOT EXISTS automated_reasons_experiment_id_idx ON automated_reasons (experiment_id)`,
			`INSERT INTO link_clicks (variant_id, link_idx, experiment_id, clicks, automated_clicks)
				SELECT variant_id, link_idx, experiment_id,
					sum(CASE WHEN automated THEN 0 ELSE 1 END),
					sum(CASE WHEN automated THEN 1 ELSE 0 END)
				FROM clicks GROUP BY variant_id, link_idx, experiment_id`,
			`INSERT INTO automated_reasons (variant_id, reason, experiment_id, clicks)
				SELECT variant_id, reason, experiment_id, count(*) FROM clicks WHERE automated
				GROUP BY variant_id, reason, experiment_id`,
		} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("link clicks: %w", err)
			}
		}
		return nil
	})
}

func downLinkClicks(ctx context.Context, db *bun.DB) error {
	return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		for _, q := range []string{`DROP TABLE automated_reasons`, `DROP TABLE link_clicks`} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		return nil
	})
}
