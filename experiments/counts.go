package experiments

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// Counters (migration 20261201000101_counts): delivery_counts holds an
// experiment's deliveries per variant and status, kept by triggers on
// deliveries in the statement that changes them, so no code that inserts
// or updates deliveries needs to call anything; contact_counts holds a
// team's contact counts, kept by triggers for unsubscribes, bounces and
// deletions and by addContacts for the contacts an import inserts (the one
// place contacts are inserted). Both may be split over several rows
// (shards: one per PostgreSQL connection that wrote them); readers add them
// up. They are exact, not estimates: a counter changes in the transaction
// that changes what it counts.

// addContacts counts n new contacts of a team, in the transaction that
// inserted them.
func addContacts(ctx context.Context, tx bun.IDB, teamID uuid.UUID, n int) error {
	if n == 0 {
		return nil
	}
	_, err := tx.NewRaw("INSERT INTO contact_counts (team_id, shard, total) VALUES (?, 0, ?) "+
		"ON CONFLICT (team_id, shard) DO UPDATE SET total = contact_counts.total + EXCLUDED.total", teamID, n).Exec(ctx)
	if err != nil {
		return fmt.Errorf("count contacts: %w", err)
	}
	return nil
}

// deliveryCount is the number of an experiment's deliveries of one variant
// (nil: none, the holdout and those waiting for a winner) in one status.
type deliveryCount struct {
	VariantID *uuid.UUID
	Status    string
	N         int
}

// deliveryCounts reads an experiment's delivery counters.
func deliveryCounts(ctx context.Context, db bun.IDB, experimentID uuid.UUID) ([]deliveryCount, error) {
	var rows []struct {
		VariantKey uuid.UUID `bun:"variant_key"`
		Status     string    `bun:"status"`
		N          int       `bun:"n"`
	}
	if err := db.NewSelect().Table("delivery_counts").ColumnExpr("variant_key, status, sum(n) AS n").
		Where("experiment_id = ?", experimentID).Group("variant_key", "status").Scan(ctx, &rows); err != nil {
		return nil, fmt.Errorf("experiments: delivery counts: %w", err)
	}
	out := make([]deliveryCount, 0, len(rows))
	for _, r := range rows {
		if r.N == 0 {
			continue
		}
		c := deliveryCount{Status: r.Status, N: r.N}
		if r.VariantKey != uuid.Nil {
			v := r.VariantKey
			c.VariantID = &v
		}
		out = append(out, c)
	}
	return out, nil
}
