package tracking

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// The click ledger keeps rollups up to date in the transaction that records
// clicks, so that results and weekly reports never scan the raw log:
//
//   - weekly_clickers: one row per (experiment, ISO week in the team's time
//     zone, contact) with at least one human click;
//   - first_clicks: when each delivery was first clicked by a person, and
//     the week it was sent in;
//   - variant_weekly: per variant and send week, messages sent (added by the
//     sender) and how many of them a person has clicked.
//
// Clicks that a later batch reveals as automated are taken out of all three.

type variantWeek struct {
	experiment, variant uuid.UUID
	week                string
}

// rollUp adds the batch's human clicks to the rollups and takes the clicks
// now known to be automated (gone) out of them.
func rollUp(ctx context.Context, st *Store, clicks, gone []Click, facts map[uuid.UUID]DeliveryFacts) error {
	loc := func(delivery uuid.UUID) *time.Location {
		if f, ok := facts[delivery]; ok && f.Location != nil {
			return f.Location
		}
		return time.UTC
	}
	bumps := map[variantWeek]int{}
	var rows []weeklyClicker
	for _, c := range clicks {
		if c.Automated || c.ContactID == uuid.Nil {
			continue
		}
		l := loc(c.DeliveryID)
		rows = append(rows, weeklyClicker{ExperimentID: c.ExperimentID, Week: WeekOf(c.ClickedAt, l).String(), ContactID: c.ContactID})
		fc := firstClick{DeliveryID: c.DeliveryID, ExperimentID: c.ExperimentID, VariantID: c.VariantID, ClickedAt: c.ClickedAt}
		if f := facts[c.DeliveryID]; f.SentAt != nil {
			fc.SendWeek = WeekOf(*f.SentAt, l).String()
		}
		first, err := st.addFirstClick(ctx, fc)
		if err != nil {
			return err
		}
		if first && fc.SendWeek != "" {
			bumps[variantWeek{c.ExperimentID, c.VariantID, fc.SendWeek}]++
		}
	}
	if err := st.addWeeklyClickers(ctx, rows); err != nil {
		return err
	}
	for _, c := range gone {
		removed, week, err := st.dropFirstClick(ctx, c.DeliveryID)
		if err != nil {
			return err
		}
		if removed && week != "" {
			bumps[variantWeek{c.ExperimentID, c.VariantID, week}]--
		}
		l := loc(c.DeliveryID)
		if err := st.dropWeeklyClicker(ctx, c.ExperimentID, c.ContactID, WeekOf(c.ClickedAt, l), l); err != nil {
			return err
		}
	}
	// One lock order for every writer of the counters: no deadlocks.
	keys := slices.Collect(maps.Keys(bumps))
	slices.SortFunc(keys, func(a, b variantWeek) int {
		return cmp.Or(strings.Compare(a.variant.String(), b.variant.String()), strings.Compare(a.week, b.week))
	})
	for _, k := range keys {
		if bumps[k] == 0 {
			continue
		}
		if err := st.AddSends(ctx, k.experiment, k.variant, k.week, 0, bumps[k]); err != nil {
			return err
		}
	}
	return nil
}
