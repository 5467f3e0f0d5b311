package migrations

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// The first human click of each delivery moves from deliveries (owned by
// experiments) to first_clicks (owned by tracking, which writes it), with
// the ISO week in which the delivery was sent, counted in the team's time
// zone: the week whose variant_weekly counter the click adds to. Weeks are
// computed in Go, never in SQL (product.md §2), hence a Go migration.
func init() {
	Migrations.MustRegister(upFirstClicks, downFirstClicks)
}

func upFirstClicks(ctx context.Context, db *bun.DB) error {
	return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		for _, q := range []string{
			`CREATE TABLE first_clicks (
				delivery_id   UUID PRIMARY KEY,
				experiment_id UUID NOT NULL,
				variant_id    UUID NOT NULL,
				clicked_at    TIMESTAMPTZ NOT NULL,
				send_week     TEXT NOT NULL DEFAULT ''
			)`,
			`CREATE INDEX IF NOT EXISTS first_clicks_experiment_id_idx ON first_clicks (experiment_id)`,
		} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("first_clicks: %w", err)
			}
		}
		type row struct {
			ID           uuid.UUID  `bun:"id"`
			ExperimentID uuid.UUID  `bun:"experiment_id"`
			VariantID    uuid.UUID  `bun:"variant_id"`
			ClickedAt    time.Time  `bun:"first_human_click_at"`
			SentAt       *time.Time `bun:"sent_at"`
			TimeZone     string     `bun:"time_zone"`
		}
		var after uuid.UUID
		for { // in pages, so memory stays flat however many deliveries were clicked
			var rows []row
			if err := tx.NewSelect().TableExpr("deliveries AS d").
				Join("JOIN experiments AS e ON e.id = d.experiment_id").Join("JOIN teams AS t ON t.id = e.team_id").
				ColumnExpr("d.id, d.experiment_id, d.variant_id, d.first_human_click_at, d.sent_at, t.time_zone").
				Where("d.first_human_click_at IS NOT NULL").Where("d.variant_id IS NOT NULL").Where("d.id > ?", after).
				OrderExpr("d.id").Limit(5000).Scan(ctx, &rows); err != nil {
				return fmt.Errorf("first_clicks: read deliveries: %w", err)
			}
			if len(rows) == 0 {
				break
			}
			type firstClick struct {
				bun.BaseModel `bun:"table:first_clicks"`
				DeliveryID    uuid.UUID `bun:"delivery_id,type:uuid"`
				ExperimentID  uuid.UUID `bun:"experiment_id,type:uuid"`
				VariantID     uuid.UUID `bun:"variant_id,type:uuid"`
				ClickedAt     time.Time `bun:"clicked_at"`
				SendWeek      string    `bun:"send_week"`
			}
			values := make([]firstClick, len(rows))
			for i, r := range rows {
				week := ""
				if r.SentAt != nil {
					loc, err := time.LoadLocation(r.TimeZone)
					if err != nil {
						loc = time.UTC
					}
					y, w := r.SentAt.In(loc).ISOWeek()
					week = fmt.Sprintf("%04d-W%02d", y, w)
				}
				values[i] = firstClick{DeliveryID: r.ID, ExperimentID: r.ExperimentID, VariantID: r.VariantID,
					ClickedAt: r.ClickedAt.UTC(), SendWeek: week}
			}
			if _, err := tx.NewInsert().Model(&values).Exec(ctx); err != nil {
				return fmt.Errorf("first_clicks: copy: %w", err)
			}
			after = rows[len(rows)-1].ID
		}
		for _, q := range []string{
			`DROP INDEX IF EXISTS deliveries_experiment_id_sent_at_idx`,
			`ALTER TABLE deliveries DROP COLUMN first_human_click_at`,
			`CREATE INDEX IF NOT EXISTS deliveries_experiment_id_sent_at_idx ON deliveries (experiment_id, sent_at)`,
		} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("first_clicks: %w", err)
			}
		}
		return nil
	})
}

func downFirstClicks(ctx context.Context, db *bun.DB) error {
	return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		for _, q := range []string{
			`DROP INDEX IF EXISTS deliveries_experiment_id_sent_at_idx`,
			`ALTER TABLE deliveries ADD COLUMN first_human_click_at TIMESTAMPTZ`,
			`UPDATE deliveries SET first_human_click_at = (SELECT f.clicked_at FROM first_clicks f WHERE f.delivery_id = deliveries.id)`,
			`CREATE INDEX IF NOT EXISTS deliveries_experiment_id_sent_at_idx ON deliveries (experiment_id, sent_at, first_human_click_at)`,
			`DROP TABLE first_clicks`,
		} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		return nil
	})
}
