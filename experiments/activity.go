package experiments

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

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
		Day       string    `bun:"day"`
		Sent      int       `bun:"sent"`
		at        time.Time // midnight of Day in the team's time zone
	}
	if err := s.db.NewSelect().Table("daily_sends").Column("variant_id", "day", "sent").Where("experiment_id = ?", id).
		Scan(ctx, &sends); err != nil {
		return nil, fmt.Errorf("experiments: activity: %w", err)
	}
	for i := range sends {
		d, err := time.ParseInLocation(time.DateOnly, sends[i].Day, loc)
		if err != nil {
			return nil, fmt.Errorf("experiments: activity: day %q: %w", sends[i].Day, err)
		}
		sends[i].at = d
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
		see(r.at)
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
			if d := pos(r.at); d >= 0 {
				a.Variants[v].Sends[d] += r.Sent
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

// dailyKey is a row of daily_sends: an experiment's variant on one day of
// the team's time zone (YYYY-MM-DD).
type dailyKey struct {
	experiment, variant uuid.UUID
	day                 string
}

// addDailySends adds to daily_sends in the transaction that records the
// messages as sent, in one order for every writer (no deadlocks).
func addDailySends(ctx context.Context, tx bun.IDB, daily map[dailyKey]int) error {
	keys := slices.Collect(maps.Keys(daily))
	slices.SortFunc(keys, func(a, b dailyKey) int {
		return cmp.Or(bytes.Compare(a.experiment[:], b.experiment[:]), bytes.Compare(a.variant[:], b.variant[:]), strings.Compare(a.day, b.day))
	})
	for _, k := range keys {
		if _, err := tx.NewRaw(`INSERT INTO daily_sends (experiment_id, variant_id, day, sent) VALUES (?, ?, ?, ?)
			ON CONFLICT (experiment_id, variant_id, day) DO UPDATE SET sent = daily_sends.sent + EXCLUDED.sent`,
			k.experiment, k.variant, k.day, daily[k]).Exec(ctx); err != nil {
			return fmt.Errorf("daily sends: %w", err)
		}
	}
	return nil
}
