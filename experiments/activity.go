package experiments

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"slicelab/tracking"
)

// Activity is an experiment's sends and first human clicks per day and
// variant, in the team's time zone, and the detail of its clicks: why some
// were set apart as automated, and the clicks of each link.
type Activity struct {
	Days     []time.Time      `json:"days"` // midnight of each day, in the team's time zone, oldest first
	Variants []ActivitySeries `json:"variants"`
	// Reasons counts the automated clicks by reason, most first.
	Reasons []tracking.ReasonCount `json:"automated_reasons"`
	// Links counts the clicks of each tracked link, by variant and link order.
	Links []tracking.LinkCount `json:"links"`
}

// ActivitySeries is one variant's daily counts, one per day of Activity.Days.
type ActivitySeries struct {
	ID          uuid.UUID `json:"id"`
	Name        string    `json:"name"`
	Sends       []int     `json:"sends"`
	FirstClicks []int     `json:"first_clicks"`
}

// maxActivityDays bounds the daily series (the most recent days are kept).
const maxActivityDays = 60

// Activity reads an experiment's daily sends and first clicks and its click
// detail. The days run from the first send to the last send or click.
func (s *Service) Activity(ctx context.Context, teamID, id uuid.UUID) (*Activity, error) {
	e, err := s.load(ctx, teamID, id)
	if err != nil {
		return nil, err
	}
	team, err := s.Team(ctx, teamID)
	if err != nil {
		return nil, err
	}
	loc := team.Location()
	var sends []struct {
		VariantID uuid.UUID `bun:"variant_id"`
		SentAt    time.Time `bun:"sent_at"`
	}
	if err := s.db.NewSelect().Table("deliveries").Column("variant_id", "sent_at").Where("experiment_id = ?", id).
		Where("status = ?", DeliverySent).Where("sent_at IS NOT NULL").Scan(ctx, &sends); err != nil {
		return nil, fmt.Errorf("experiments: activity: %w", err)
	}
	firsts, err := s.clicks.FirstClicks(ctx, id)
	if err != nil {
		return nil, err
	}
	a := &Activity{Days: []time.Time{}, Variants: make([]ActivitySeries, len(e.Variants))}
	if a.Reasons, err = s.clicks.AutomatedReasons(ctx, id); err != nil {
		return nil, err
	}
	if a.Links, err = s.clicks.LinkClicks(ctx, id); err != nil {
		return nil, err
	}
	idx := map[uuid.UUID]int{}
	for i, v := range e.Variants {
		idx[v.ID] = i
		a.Variants[i] = ActivitySeries{ID: v.ID, Name: v.Name, Sends: []int{}, FirstClicks: []int{}}
	}
	day := func(t time.Time) time.Time {
		t = t.In(loc)
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
	}
	var first, last time.Time
	see := func(t time.Time) {
		d := day(t)
		if first.IsZero() || d.Before(first) {
			first = d
		}
		if d.After(last) {
			last = d
		}
	}
	for _, r := range sends {
		see(r.SentAt)
	}
	for _, r := range firsts {
		see(r.ClickedAt)
	}
	if first.IsZero() {
		return a, nil
	}
	for d := first; !d.After(last); d = d.AddDate(0, 0, 1) {
		a.Days = append(a.Days, d)
	}
	if len(a.Days) > maxActivityDays {
		a.Days = a.Days[len(a.Days)-maxActivityDays:]
		first = a.Days[0]
	}
	pos := func(t time.Time) int {
		d := day(t)
		for i := len(a.Days) - 1; i >= 0; i-- { // most rows fall on recent days
			if a.Days[i].Equal(d) {
				return i
			}
		}
		return -1
	}
	for i := range a.Variants {
		a.Variants[i].Sends = make([]int, len(a.Days))
		a.Variants[i].FirstClicks = make([]int, len(a.Days))
	}
	for _, r := range sends {
		if v, ok := idx[r.VariantID]; ok {
			if d := pos(r.SentAt); d >= 0 {
				a.Variants[v].Sends[d]++
			}
		}
	}
	for _, r := range firsts {
		if v, ok := idx[r.VariantID]; ok {
			if d := pos(r.ClickedAt); d >= 0 {
				a.Variants[v].FirstClicks[d]++
			}
		}
	}
	return a, nil
}
