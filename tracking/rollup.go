package tracking

import (
	"bytes"
	"cmp"
	"context"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// The projector keeps rollups of the classified clicks up to date, in the
// transaction of each chunk, so that results and weekly reports never scan
// the clicks:
//
//   - variant_clicks: per variant, the deliveries with a human click, human
//     clicks and automated clicks (results);
//   - weekly_clickers: one row per (experiment, ISO week in the team's time
//     zone, contact) with at least one human click;
//   - first_clicks: when each delivery was first clicked by a person, and
//     the week it was sent in;
//   - variant_weekly: per variant and send week, messages sent (added by the
//     sender) and how many of them a person has clicked;
//   - link_clicks and automated_reasons: per tracked link, human and
//     automated clicks; per variant, automated clicks by reason (results).
//
// Clicks that a later chunk reveals as automated are moved over in all of them.
// Each is written with one statement per chunk (or per delivery for the
// rare changes), whatever the number of clicks.

type variantWeek struct {
	experiment, variant uuid.UUID
	week                string
}

// rollupEffect is what a chunk changed in the rollups, for the projector's
// memory once the chunk has committed.
type rollupEffect struct {
	first         map[uuid.UUID]time.Time // first_clicks rows now at these times
	noFirst       []uuid.UUID             // deliveries whose first_clicks row is gone
	weeklyAdded   []weeklyClicker
	weeklyDropped []weeklyClicker
}

// rollUp adds the chunk's newly stored clicks (those of clicks whose id is in
// stored) to the rollups, and takes the clicks now known to be automated
// (gone) out of them.
func (p *Projector) rollUp(ctx context.Context, st *Store, clicks []Click, stored map[uuid.UUID]bool, gone []Click, facts map[uuid.UUID]DeliveryFacts) (rollupEffect, error) {
	eff := rollupEffect{first: map[uuid.UUID]time.Time{}}
	loc := func(delivery uuid.UUID) *time.Location {
		if f, ok := facts[delivery]; ok && f.Location != nil {
			return f.Location
		}
		return time.UTC
	}
	counts := map[uuid.UUID]*variantCount{}
	count := func(experiment, variant uuid.UUID) *variantCount {
		c, ok := counts[variant]
		if !ok {
			c = &variantCount{VariantID: variant, ExperimentID: experiment}
			counts[variant] = c
		}
		return c
	}
	bumps := map[variantWeek]int{}
	type linkKey struct {
		variant uuid.UUID
		idx     int
	}
	type reasonKey struct {
		variant uuid.UUID
		reason  string
	}
	links := map[linkKey]*linkCount{}
	link := func(c Click) *linkCount {
		k := linkKey{c.VariantID, c.LinkIdx}
		l, ok := links[k]
		if !ok {
			l = &linkCount{VariantID: c.VariantID, LinkIdx: c.LinkIdx, ExperimentID: c.ExperimentID}
			links[k] = l
		}
		return l
	}
	reasons := map[reasonKey]*reasonCount{}
	reason := func(c Click) {
		k := reasonKey{c.VariantID, c.Reason}
		r, ok := reasons[k]
		if !ok {
			r = &reasonCount{VariantID: c.VariantID, Reason: c.Reason, ExperimentID: c.ExperimentID}
			reasons[k] = r
		}
		r.Clicks++
	}

	// The new clicks: counters, each delivery's first human click, and who
	// clicked in which week.
	firsts := map[uuid.UUID]firstClick{}
	weekly := map[weeklyClicker]struct{}{}
	for _, c := range clicks {
		if !stored[c.ID] {
			continue
		}
		vc := count(c.ExperimentID, c.VariantID)
		if c.Automated {
			vc.AutomatedClicks++
			link(c).AutomatedClicks++
			reason(c)
			continue
		}
		vc.Clicks++
		link(c).Clicks++
		if fc, ok := firsts[c.DeliveryID]; !ok || c.ClickedAt.Before(fc.ClickedAt) {
			fc = firstClick{DeliveryID: c.DeliveryID, ExperimentID: c.ExperimentID, VariantID: c.VariantID, ClickedAt: c.ClickedAt}
			if f := facts[c.DeliveryID]; f.SentAt != nil {
				fc.SendWeek = WeekOf(*f.SentAt, loc(c.DeliveryID)).String()
			}
			firsts[c.DeliveryID] = fc
		}
		if c.ContactID != uuid.Nil {
			k := weeklyClicker{ExperimentID: c.ExperimentID, Week: WeekOf(c.ClickedAt, loc(c.DeliveryID)).String(), ContactID: c.ContactID}
			if _, known := p.cache.weekly[k]; !known {
				weekly[k] = struct{}{}
			}
		}
	}
	if len(firsts) > 0 {
		have := map[uuid.UUID]time.Time{}
		var unknown []uuid.UUID
		for d := range firsts {
			if at, ok := p.cache.first[d]; ok {
				have[d] = at
			} else {
				unknown = append(unknown, d)
			}
		}
		for start := 0; start < len(unknown); start += 1000 {
			got, err := st.firstClicks(ctx, unknown[start:min(len(unknown), start+1000)])
			if err != nil {
				return eff, err
			}
			maps.Copy(have, got)
		}
		var add []firstClick
		for _, d := range sortedIDs(slices.Collect(maps.Keys(firsts))) {
			fc := firsts[d]
			at, ok := have[d]
			switch {
			case !ok:
				add = append(add, fc)
				count(fc.ExperimentID, fc.VariantID).HumanClickers++
				if fc.SendWeek != "" {
					bumps[variantWeek{fc.ExperimentID, fc.VariantID, fc.SendWeek}]++
				}
				eff.first[d] = fc.ClickedAt
			case fc.ClickedAt.Before(at): // an earlier click arriving late moves the time back
				if err := st.moveFirstClick(ctx, d, fc.ClickedAt); err != nil {
					return eff, err
				}
				eff.first[d] = fc.ClickedAt
			default:
				eff.first[d] = at
			}
		}
		if err := st.insertFirstClicks(ctx, add); err != nil {
			return eff, err
		}
	}
	if len(weekly) > 0 {
		rows := slices.Collect(maps.Keys(weekly))
		slices.SortFunc(rows, compareWeekly)
		if err := st.addWeeklyClickers(ctx, rows); err != nil {
			return eff, err
		}
		eff.weeklyAdded = rows
	}

	// The clicks now known to be automated.
	if len(gone) > 0 {
		var deliveries []uuid.UUID
		seen := map[uuid.UUID]bool{}
		drops := map[weeklyClicker]uuid.UUID{} // → the delivery
		for _, c := range gone {
			vc := count(c.ExperimentID, c.VariantID)
			vc.Clicks--
			vc.AutomatedClicks++
			l := link(c)
			l.Clicks--
			l.AutomatedClicks++
			reason(c)
			if !seen[c.DeliveryID] {
				seen[c.DeliveryID] = true
				deliveries = append(deliveries, c.DeliveryID)
			}
			if c.ContactID != uuid.Nil {
				drops[weeklyClicker{ExperimentID: c.ExperimentID, Week: WeekOf(c.ClickedAt, loc(c.DeliveryID)).String(), ContactID: c.ContactID}] = c.DeliveryID
			}
		}
		deliveries = sortedIDs(deliveries)
		still, err := st.firstHuman(ctx, deliveries)
		if err != nil {
			return eff, err
		}
		var none []uuid.UUID
		for _, d := range deliveries {
			at, ok := still[d]
			if !ok {
				none = append(none, d)
				continue
			}
			if err := st.moveFirstClick(ctx, d, at); err != nil {
				return eff, err
			}
			eff.first[d] = at
		}
		removed, err := st.deleteFirstClicks(ctx, none)
		if err != nil {
			return eff, err
		}
		for _, fc := range removed {
			count(fc.ExperimentID, fc.VariantID).HumanClickers--
			if fc.SendWeek != "" {
				bumps[variantWeek{fc.ExperimentID, fc.VariantID, fc.SendWeek}]--
			}
		}
		for _, d := range none {
			delete(eff.first, d)
		}
		eff.noFirst = none
		keys := slices.Collect(maps.Keys(drops))
		slices.SortFunc(keys, compareWeekly)
		for _, k := range keys {
			w, err := ParseWeek(k.Week)
			if err != nil {
				return eff, err
			}
			d := drops[k]
			if err := st.dropWeeklyClicker(ctx, k.ExperimentID, k.ContactID, d, w, loc(d)); err != nil {
				return eff, err
			}
			eff.weeklyDropped = append(eff.weeklyDropped, k)
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
			return eff, err
		}
	}
	var rows []variantCount
	for _, v := range sortedIDs(slices.Collect(maps.Keys(counts))) {
		if c := counts[v]; *c != (variantCount{VariantID: c.VariantID, ExperimentID: c.ExperimentID}) {
			rows = append(rows, *c)
		}
	}
	if err := st.addVariantClicks(ctx, rows); err != nil {
		return eff, err
	}
	lrows := make([]linkCount, 0, len(links))
	for _, l := range links {
		if l.Clicks != 0 || l.AutomatedClicks != 0 {
			lrows = append(lrows, *l)
		}
	}
	slices.SortFunc(lrows, func(a, b linkCount) int {
		return cmp.Or(bytes.Compare(a.VariantID[:], b.VariantID[:]), cmp.Compare(a.LinkIdx, b.LinkIdx))
	})
	rrows := make([]reasonCount, 0, len(reasons))
	for _, r := range reasons {
		rrows = append(rrows, *r)
	}
	slices.SortFunc(rrows, func(a, b reasonCount) int {
		return cmp.Or(bytes.Compare(a.VariantID[:], b.VariantID[:]), strings.Compare(a.Reason, b.Reason))
	})
	return eff, st.addLinkClicks(ctx, lrows, rrows)
}

func sortedIDs(ids []uuid.UUID) []uuid.UUID {
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
	return ids
}

func compareWeekly(a, b weeklyClicker) int {
	return cmp.Or(bytes.Compare(a.ExperimentID[:], b.ExperimentID[:]), strings.Compare(a.Week, b.Week),
		bytes.Compare(a.ContactID[:], b.ContactID[:]))
}
