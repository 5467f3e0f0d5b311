package tracking

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Reads for the results page: why clicks were set apart as automated, the
// clicks of each tracked link, and the times of the first human clicks.

// ReasonCount is how many of an experiment's clicks were classified as
// automated for one reason.
type ReasonCount struct {
	Reason string `bun:"reason" json:"reason"`
	Clicks int    `bun:"n" json:"clicks"`
}

// AutomatedReasons counts an experiment's automated clicks by reason, most
// first (from the projector's rollup).
func (s *Store) AutomatedReasons(ctx context.Context, experimentID uuid.UUID) ([]ReasonCount, error) {
	out := []ReasonCount{}
	if err := s.db.NewSelect().Table("automated_reasons").ColumnExpr("reason, sum(clicks) AS n").
		Where("experiment_id = ?", experimentID).Group("reason").Having("sum(clicks) > 0").
		OrderExpr("n DESC, reason").Scan(ctx, &out); err != nil {
		return nil, fmt.Errorf("tracking: automated reasons: %w", err)
	}
	return out, nil
}

// LinkCount is the clicks of one tracked link of one variant.
type LinkCount struct {
	VariantID       uuid.UUID `bun:"variant_id" json:"variant_id"`
	Idx             int       `bun:"idx" json:"idx"`
	URL             string    `bun:"url" json:"url"`
	HumanClicks     int       `bun:"human_clicks" json:"human_clicks"`
	AutomatedClicks int       `bun:"automated_clicks" json:"automated_clicks"`
}

// LinkClicks counts the clicks of every tracked link of an experiment (links
// nobody clicked included), by variant and link index, from the projector's
// rollup.
func (s *Store) LinkClicks(ctx context.Context, experimentID uuid.UUID) ([]LinkCount, error) {
	out := []LinkCount{}
	if err := s.db.NewSelect().TableExpr("links AS l").
		Join("LEFT JOIN link_clicks AS k ON k.variant_id = l.variant_id AND k.link_idx = l.idx").
		ColumnExpr("l.variant_id, l.idx, l.url").
		ColumnExpr("COALESCE(k.clicks, 0) AS human_clicks").
		ColumnExpr("COALESCE(k.automated_clicks, 0) AS automated_clicks").
		Where("l.experiment_id = ?", experimentID).
		Order("l.variant_id", "l.idx").Scan(ctx, &out); err != nil {
		return nil, fmt.Errorf("tracking: link clicks: %w", err)
	}
	return out, nil
}

// FirstClickTime is when a delivery of a variant was first clicked by a person.
type FirstClickTime struct {
	VariantID uuid.UUID `bun:"variant_id"`
	ClickedAt time.Time `bun:"clicked_at"`
}

// FirstClicks lists the first human click of every clicked delivery of an
// experiment (one row per clicker).
func (s *Store) FirstClicks(ctx context.Context, experimentID uuid.UUID) ([]FirstClickTime, error) {
	var out []FirstClickTime
	if err := s.db.NewSelect().Table("first_clicks").Column("variant_id", "clicked_at").
		Where("experiment_id = ?", experimentID).Scan(ctx, &out); err != nil {
		return nil, fmt.Errorf("tracking: first clicks: %w", err)
	}
	return out, nil
}
