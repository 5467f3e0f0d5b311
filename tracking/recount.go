package tracking

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// Rollups is everything the projector derives from the ledger, in a form
// that two derivations can be compared in: the classification of every
// click and the content of the rollups.
type Rollups struct {
	Reasons  map[uuid.UUID]string        // click id → reason ("" for a human click)
	Variants map[uuid.UUID]VariantClicks // per variant
	First    map[uuid.UUID]FirstClick    // per delivery with a human click
	Weekly   map[Clicker]map[string]bool // (experiment, contact) → ISO weeks with a human click
	Clicked  map[string]int              // "variant week" → sent that week and clicked by a person (variant_weekly.clicked)
	Links    map[string][2]int           // "variant link" → human and automated clicks (link_clicks)
	ByReason map[string]int              // "variant reason" → automated clicks (automated_reasons)
}

// FirstClick is a delivery's first human click and the week it was sent in.
type FirstClick struct {
	At       time.Time
	SendWeek string
}

// Rollups reads what the projector has stored.
func (s *Store) Rollups(ctx context.Context) (Rollups, error) {
	r := newRollups()
	var clicks []Click
	if err := s.db.NewSelect().Model(&clicks).Column("id", "reason").Scan(ctx); err != nil {
		return r, fmt.Errorf("tracking: rollups: %w", err)
	}
	for _, c := range clicks {
		r.Reasons[c.ID] = c.Reason
	}
	var vcs []VariantClicks
	if err := s.db.NewSelect().Table("variant_clicks").Column("variant_id", "human_clickers", "clicks", "automated_clicks").
		Scan(ctx, &vcs); err != nil {
		return r, fmt.Errorf("tracking: rollups: %w", err)
	}
	for _, v := range vcs {
		if v != (VariantClicks{VariantID: v.VariantID}) {
			r.Variants[v.VariantID] = v
		}
	}
	var fcs []firstClick
	if err := s.db.NewSelect().Model(&fcs).Scan(ctx); err != nil {
		return r, fmt.Errorf("tracking: rollups: %w", err)
	}
	for _, f := range fcs {
		r.First[f.DeliveryID] = FirstClick{At: f.ClickedAt.UTC(), SendWeek: f.SendWeek}
	}
	var wcs []weeklyClicker
	if err := s.db.NewSelect().Model(&wcs).Scan(ctx); err != nil {
		return r, fmt.Errorf("tracking: rollups: %w", err)
	}
	for _, w := range wcs {
		r.addWeek(w.ExperimentID, w.ContactID, w.Week)
	}
	var vws []struct {
		VariantID uuid.UUID `bun:"variant_id"`
		Week      string    `bun:"week"`
		Clicked   int       `bun:"clicked"`
	}
	if err := s.db.NewSelect().Table("variant_weekly").Column("variant_id", "week", "clicked").Where("clicked <> 0").
		Scan(ctx, &vws); err != nil {
		return r, fmt.Errorf("tracking: rollups: %w", err)
	}
	for _, v := range vws {
		r.Clicked[v.VariantID.String()+" "+v.Week] = v.Clicked
	}
	var lcs []linkCount
	if err := s.db.NewSelect().Model(&lcs).Scan(ctx); err != nil {
		return r, fmt.Errorf("tracking: rollups: %w", err)
	}
	for _, l := range lcs {
		if l.Clicks != 0 || l.AutomatedClicks != 0 {
			r.Links[fmt.Sprintf("%s %d", l.VariantID, l.LinkIdx)] = [2]int{l.Clicks, l.AutomatedClicks}
		}
	}
	var rcs []reasonCount
	if err := s.db.NewSelect().Model(&rcs).Scan(ctx); err != nil {
		return r, fmt.Errorf("tracking: rollups: %w", err)
	}
	for _, x := range rcs {
		if x.Clicks != 0 {
			r.ByReason[x.VariantID.String()+" "+x.Reason] = x.Clicks
		}
	}
	return r, nil
}

func newRollups() Rollups {
	return Rollups{Reasons: map[uuid.UUID]string{}, Variants: map[uuid.UUID]VariantClicks{}, First: map[uuid.UUID]FirstClick{},
		Weekly: map[Clicker]map[string]bool{}, Clicked: map[string]int{}, Links: map[string][2]int{}, ByReason: map[string]int{}}
}

func (r Rollups) addWeek(experiment, contact uuid.UUID, week string) {
	k := Clicker{ExperimentID: experiment, ContactID: contact}
	if r.Weekly[k] == nil {
		r.Weekly[k] = map[string]bool{}
	}
	r.Weekly[k][week] = true
}

// Recount derives the rollups from the raw ledger in one pass, judging all
// clicks together, with none of the projector's incremental bookkeeping: a
// check of the projector (the two agree when the ledger is in time order).
// It holds the whole ledger in memory. db is where deliveries' facts are
// looked up.
func Recount(ctx context.Context, ledger *Ledger, deliveries Deliveries, db bun.IDB, rules Rules) (Rollups, error) {
	raw, err := ledger.All(ctx)
	if err != nil {
		return Rollups{}, err
	}
	r := newRollups()
	if len(raw) == 0 {
		return r, nil
	}
	clicks, _ := classifyRequests(raw)
	facts := map[uuid.UUID]DeliveryFacts{}
	if deliveries != nil {
		var ids []uuid.UUID
		seen := map[uuid.UUID]bool{}
		for _, c := range clicks {
			if !seen[c.DeliveryID] {
				seen[c.DeliveryID] = true
				ids = append(ids, c.DeliveryID)
			}
		}
		for start := 0; start < len(ids); start += 1000 {
			got, err := deliveries.DeliveryFacts(ctx, db, ids[start:min(len(ids), start+1000)])
			if err != nil {
				return r, err
			}
			for id, f := range got {
				facts[id] = f
			}
		}
	}
	for i := range clicks {
		c := &clicks[i]
		if f, ok := facts[c.DeliveryID]; ok {
			c.ContactID = f.ContactID
			if c.ExperimentID == uuid.Nil {
				c.ExperimentID = f.ExperimentID
			}
		}
	}
	classifyBatch(clicks, nil, facts, rules)
	loc := func(d uuid.UUID) *time.Location {
		if f, ok := facts[d]; ok && f.Location != nil {
			return f.Location
		}
		return time.UTC
	}
	humans := map[uuid.UUID]map[uuid.UUID]bool{} // variant → deliveries
	for _, c := range clicks {
		r.Reasons[c.ID] = c.Reason
		v := r.Variants[c.VariantID]
		v.VariantID = c.VariantID
		lk := fmt.Sprintf("%s %d", c.VariantID, c.LinkIdx)
		l := r.Links[lk]
		if c.Automated {
			v.AutomatedClicks++
			r.Variants[c.VariantID] = v
			l[1]++
			r.Links[lk] = l
			r.ByReason[c.VariantID.String()+" "+c.Reason]++
			continue
		}
		l[0]++
		r.Links[lk] = l
		v.Clicks++
		if humans[c.VariantID] == nil {
			humans[c.VariantID] = map[uuid.UUID]bool{}
		}
		humans[c.VariantID][c.DeliveryID] = true
		v.HumanClickers = len(humans[c.VariantID])
		r.Variants[c.VariantID] = v
		if fc, ok := r.First[c.DeliveryID]; !ok || c.ClickedAt.Before(fc.At) {
			week := ""
			if f := facts[c.DeliveryID]; f.SentAt != nil {
				week = WeekOf(*f.SentAt, loc(c.DeliveryID)).String()
			}
			if !ok && week != "" {
				r.Clicked[c.VariantID.String()+" "+week]++
			}
			r.First[c.DeliveryID] = FirstClick{At: c.ClickedAt, SendWeek: week}
		}
		if c.ContactID != uuid.Nil {
			r.addWeek(c.ExperimentID, c.ContactID, WeekOf(c.ClickedAt, loc(c.DeliveryID)).String())
		}
	}
	return r, nil
}
