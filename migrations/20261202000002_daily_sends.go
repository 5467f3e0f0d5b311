package migrations

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
)

// daily_sends (owner: experiments): messages sent per experiment, variant and
// day of the team's time zone, added to by the commit that records them as
// sent, so that an experiment's daily activity is read from a row a day
// instead of from every delivery (5 s at a million deliveries before).
//
// It starts from the deliveries already sent: counted per quarter of an hour
// in UTC by the database, then put on the team's day here (every time zone's
// offset is a whole number of quarter hours).
//
// The index of deliveries by experiment and send time served only that
// daily count; it goes, so that recording a send updates one index fewer.
func init() {
	Migrations.MustRegister(upDailySends, downDailySends)
}

func upDailySends(ctx context.Context, db *bun.DB) error {
	pg := db.Dialect().Name() == dialect.PG
	quarter := `substr(d.sent_at, 1, 14) || printf('%02d', (CAST(substr(d.sent_at, 15, 2) AS INTEGER) / 15) * 15)`
	if pg {
		quarter = `to_char(date_trunc('hour', d.sent_at AT TIME ZONE 'UTC') + floor(extract(minute FROM d.sent_at AT TIME ZONE 'UTC') / 15) * interval '15 minutes', 'YYYY-MM-DD HH24:MI')`
	}
	return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE daily_sends (
			experiment_id UUID NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
			variant_id    UUID NOT NULL,
			day           TEXT NOT NULL,
			sent          BIGINT NOT NULL,
			PRIMARY KEY (experiment_id, variant_id, day)
		)`); err != nil {
			return fmt.Errorf("daily_sends: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DROP INDEX IF EXISTS deliveries_experiment_id_sent_at_idx`); err != nil {
			return fmt.Errorf("daily_sends: %w", err)
		}
		var rows []struct {
			ExperimentID string `bun:"experiment_id"`
			VariantID    string `bun:"variant_id"`
			Quarter      string `bun:"quarter"`
			TimeZone     string `bun:"time_zone"`
			N            int64  `bun:"n"`
		}
		if err := tx.NewRaw(`SELECT CAST(d.experiment_id AS TEXT) AS experiment_id, CAST(d.variant_id AS TEXT) AS variant_id,
				`+quarter+` AS quarter, t.time_zone, count(*) AS n
			FROM deliveries AS d JOIN experiments AS e ON e.id = d.experiment_id JOIN teams AS t ON t.id = e.team_id
			WHERE d.status = 'sent' AND d.sent_at IS NOT NULL AND d.variant_id IS NOT NULL
			GROUP BY 1, 2, 3, 4`).Scan(ctx, &rows); err != nil {
			return fmt.Errorf("daily_sends: count the sent deliveries: %w", err)
		}
		type key struct{ experiment, variant, day string }
		sums := map[key]int64{}
		var order []key
		for _, r := range rows {
			at, err := time.ParseInLocation("2006-01-02 15:04", r.Quarter, time.UTC)
			if err != nil {
				return fmt.Errorf("daily_sends: %q: %w", r.Quarter, err)
			}
			loc, err := time.LoadLocation(r.TimeZone)
			if err != nil {
				loc = time.UTC
			}
			k := key{r.ExperimentID, r.VariantID, at.In(loc).Format(time.DateOnly)}
			if _, ok := sums[k]; !ok {
				order = append(order, k)
			}
			sums[k] += r.N
		}
		for _, k := range order {
			if _, err := tx.NewRaw("INSERT INTO daily_sends (experiment_id, variant_id, day, sent) VALUES (?, ?, ?, ?)",
				k.experiment, k.variant, k.day, sums[k]).Exec(ctx); err != nil {
				return fmt.Errorf("daily_sends: %w", err)
			}
		}
		return nil
	})
}

func downDailySends(ctx context.Context, db *bun.DB) error {
	for _, q := range []string{`DROP TABLE IF EXISTS daily_sends`,
		`CREATE INDEX IF NOT EXISTS deliveries_experiment_id_sent_at_idx ON deliveries (experiment_id, sent_at)`} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}
