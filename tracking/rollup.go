package tracking

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// The click ledger keeps two rollups up to date in the transaction that
// records clicks, so that weekly reports never scan the raw log:
//
//   - weekly_clickers: one row per (experiment, ISO week in the team's time
//     zone, contact) with at least one human click;
//   - deliveries.first_human_click_at: when the delivery was first clicked by
//     a person, for click-through rates by send week.
//
// Clicks that a later batch reveals as automated are taken out of both.

type weeklyClicker struct {
	bun.BaseModel `bun:"table:weekly_clickers"`

	ExperimentID uuid.UUID `bun:"experiment_id,pk,type:uuid"`
	Week         string    `bun:"week,pk"`
	ContactID    uuid.UUID `bun:"contact_id,pk,type:uuid"`
}

// WeekKey is the ISO week of t in loc, as "2026-W48".
func WeekKey(t time.Time, loc *time.Location) string {
	y, w := t.In(loc).ISOWeek()
	return fmt.Sprintf("%04d-W%02d", y, w)
}

// weekBounds is the [Monday 00:00, next Monday 00:00) range in loc around t, in UTC.
func weekBounds(t time.Time, loc *time.Location) (time.Time, time.Time) {
	l := t.In(loc)
	back := (int(l.Weekday()) + 6) % 7
	y, m, d := l.Date()
	start := time.Date(y, m, d-back, 0, 0, 0, 0, loc)
	return start.UTC(), time.Date(y, m, d-back+7, 0, 0, 0, 0, loc).UTC()
}

// zones resolves experiments to their team's time zone, caching the answers
// (only the recorder goroutine uses it).
type zones map[uuid.UUID]*time.Location

func (z zones) load(ctx context.Context, db bun.IDB, ids []uuid.UUID) error {
	var missing []uuid.UUID
	for _, id := range ids {
		if _, ok := z[id]; !ok {
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	var rows []struct {
		ID       uuid.UUID `bun:"id"`
		TimeZone string    `bun:"time_zone"`
	}
	if err := db.NewSelect().TableExpr("experiments AS e").Join("JOIN teams AS t ON t.id = e.team_id").
		ColumnExpr("e.id, t.time_zone").Where("e.id IN (?)", bun.In(missing)).Scan(ctx, &rows); err != nil {
		return err
	}
	if len(z) > 10000 {
		clear(z)
	}
	for _, r := range rows {
		loc, err := time.LoadLocation(r.TimeZone)
		if err != nil {
			loc = time.UTC
		}
		z[r.ID] = loc
	}
	return nil
}

func (z zones) of(id uuid.UUID) *time.Location {
	if loc := z[id]; loc != nil {
		return loc
	}
	return time.UTC
}

// rollUp adds the batch's human clicks to the rollups and takes the clicks
// now known to be automated out of them.
func (r *Recorder) rollUp(ctx context.Context, tx bun.Tx, clicks []Click, retro []uuid.UUID) error {
	var exps []uuid.UUID
	for _, c := range clicks {
		exps = append(exps, c.ExperimentID)
	}
	var gone []Click
	if len(retro) > 0 {
		if err := tx.NewSelect().Model(&gone).Column("experiment_id", "variant_id", "delivery_id", "contact_id", "clicked_at").
			Where("id IN (?)", bun.In(retro)).Scan(ctx); err != nil {
			return err
		}
		for _, c := range gone {
			exps = append(exps, c.ExperimentID)
		}
	}
	if len(exps) == 0 {
		return nil
	}
	if err := r.zones.load(ctx, tx, exps); err != nil {
		return err
	}
	bumps := map[variantWeek]int{}
	var rows []weeklyClicker
	for _, c := range clicks {
		if c.Automated || c.ContactID == uuid.Nil {
			continue
		}
		loc := r.zones.of(c.ExperimentID)
		rows = append(rows, weeklyClicker{ExperimentID: c.ExperimentID, Week: WeekKey(c.ClickedAt, loc), ContactID: c.ContactID})
		// The delivery's first human click: counts once for its send week.
		var first []struct {
			SentAt *time.Time `bun:"sent_at"`
		}
		if err := tx.NewUpdate().Table("deliveries").Set("first_human_click_at = ?", c.ClickedAt).Where("id = ?", c.DeliveryID).
			Where("first_human_click_at IS NULL").Returning("sent_at").Scan(ctx, &first); err != nil {
			return err
		}
		if len(first) == 1 && first[0].SentAt != nil {
			bumps[variantWeek{c.ExperimentID, c.VariantID, WeekKey(*first[0].SentAt, loc)}]++
		} else if _, err := tx.NewUpdate().Table("deliveries").Set("first_human_click_at = ?", c.ClickedAt).Where("id = ?", c.DeliveryID).
			Where("first_human_click_at > ?", c.ClickedAt).Exec(ctx); err != nil {
			return err
		}
	}
	if len(rows) > 0 {
		if _, err := tx.NewInsert().Model(&rows).On("CONFLICT DO NOTHING").Exec(ctx); err != nil {
			return err
		}
	}
	for _, c := range gone {
		loc := r.zones.of(c.ExperimentID)
		// If no human click of the delivery is left, it no longer counts as clicked.
		var lost []struct {
			SentAt *time.Time `bun:"sent_at"`
		}
		if err := tx.NewUpdate().Table("deliveries").Set("first_human_click_at = NULL").Where("id = ?", c.DeliveryID).
			Where("first_human_click_at IS NOT NULL").
			Where("NOT EXISTS (SELECT 1 FROM clicks WHERE delivery_id = ? AND NOT automated)", c.DeliveryID).
			Returning("sent_at").Scan(ctx, &lost); err != nil {
			return err
		}
		if len(lost) == 1 && lost[0].SentAt != nil {
			bumps[variantWeek{c.ExperimentID, c.VariantID, WeekKey(*lost[0].SentAt, loc)}]--
		} else if _, err := tx.NewUpdate().Table("deliveries").
			Set("first_human_click_at = (SELECT min(clicked_at) FROM clicks WHERE delivery_id = ? AND NOT automated)", c.DeliveryID).
			Where("id = ?", c.DeliveryID).Exec(ctx); err != nil {
			return err
		}
		from, to := weekBounds(c.ClickedAt, loc)
		if _, err := tx.NewDelete().Table("weekly_clickers").
			Where("experiment_id = ?", c.ExperimentID).Where("week = ?", WeekKey(c.ClickedAt, loc)).Where("contact_id = ?", c.ContactID).
			Where("NOT EXISTS (SELECT 1 FROM clicks WHERE experiment_id = ? AND contact_id = ? AND NOT automated AND clicked_at >= ? AND clicked_at < ?)",
				c.ExperimentID, c.ContactID, from, to).Exec(ctx); err != nil {
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
		if err := BumpVariantWeek(ctx, tx, k.experiment, k.variant, k.week, 0, bumps[k]); err != nil {
			return err
		}
	}
	return nil
}

type variantWeek struct {
	experiment, variant uuid.UUID
	week                string
}

// BumpVariantWeek adds to the sent and clicked counters of a variant's send week.
func BumpVariantWeek(ctx context.Context, db bun.IDB, experimentID, variantID uuid.UUID, week string, sent, clicked int) error {
	_, err := db.NewRaw(`INSERT INTO variant_weekly (experiment_id, variant_id, week, sent, clicked) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (variant_id, week) DO UPDATE SET sent = variant_weekly.sent + EXCLUDED.sent, clicked = variant_weekly.clicked + EXCLUDED.clicked`,
		experimentID, variantID, week, sent, clicked).Exec(ctx)
	return err
}

// TeamZone is the time zone of an experiment's team (UTC when unknown).
func TeamZone(ctx context.Context, db bun.IDB, experimentID uuid.UUID) (*time.Location, error) {
	z := zones{}
	if err := z.load(ctx, db, []uuid.UUID{experimentID}); err != nil {
		return nil, err
	}
	return z.of(experimentID), nil
}
