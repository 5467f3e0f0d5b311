package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"slicelab/experiments"
	"slicelab/okr"
	"slicelab/tracking"
)

// BenchmarkWeeklyReview seeds a team with 1 M deliveries (10 experiments of
// 100 k contacts over a quarter) and 200 k clicks, then times the weekly
// review (product.md §14: ≤ 100 ms):
//
//	go test ./cmd/slicelab -run '^$' -bench WeeklyReview -benchtime 20x
//
// SLICELAB_BENCH_POSTGRES_URL=postgres://… runs it on PostgreSQL instead of SQLite.
func BenchmarkWeeklyReview(b *testing.B) {
	ctx := context.Background()
	target := dbTarget{dsn: b.TempDir() + "/bench.db"}
	if u := os.Getenv("SLICELAB_BENCH_POSTGRES_URL"); u != "" {
		target = dbTarget{postgres: true, dsn: u}
	}
	st, err := openStore(ctx, target)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if err := st.migrateUp(ctx, nil); err != nil {
		b.Fatal(err)
	}
	exps := experiments.NewService(st.db, experiments.Config{}, experiments.Deps{Now: time.Now})
	svc, err := okr.NewService(st.db, exps, tracking.NewStore(st.db), okr.Config{Secret: []byte("bench-secret-0123456789abcdef0123456789")}, time.Now)
	if err != nil {
		b.Fatal(err)
	}
	team, err := exps.CreateTeam(ctx, "bench-"+uuid.NewString()[:8], "Bench")
	if err != nil {
		b.Fatal(err)
	}
	start := time.Date(2026, 10, 5, 9, 0, 0, 0, time.UTC) // 2026-W41
	week := tracking.WeekOf(start.Add(6*7*24*time.Hour), time.UTC)
	seedStart := time.Now()
	expIDs := seedReviewData(b, ctx, st.db, exps, team, start)
	b.Logf("seeded 1,000,000 deliveries and 200,000 clicks in %s", time.Since(seedStart).Round(time.Second))

	obj, err := svc.CreateObjective(ctx, team.ID, okr.ObjectiveInput{Title: "Grow", Period: "2026-Q4"})
	if err != nil {
		b.Fatal(err)
	}
	zero, twenty, fifth := 0.0, 20000.0, 0.2
	for _, in := range []okr.KeyResultInput{
		{Title: "Weekly clickers", Type: okr.TypeMetric, Start: &zero, Target: &twenty, Source: okr.SourceClicks, ExperimentIDs: expIDs},
		{Title: "CTR", Type: okr.TypeThreshold, Target: &fifth, Source: okr.SourceCTR, ExperimentIDs: expIDs[:5]},
	} {
		if _, err := svc.CreateKeyResult(ctx, team.ID, obj.ID, in); err != nil {
			b.Fatal(err)
		}
	}
	r, err := svc.WeeklyReview(ctx, team, week)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("review of %s: %v clickers, %d experiments", week, *r.Objectives[0].KeyResults[0].Value, len(r.Experiments))
	b.ResetTimer()
	for b.Loop() {
		if _, err := svc.WeeklyReview(ctx, team, week); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/review")
}

func seedReviewData(b *testing.B, ctx context.Context, db *bun.DB, exps *experiments.Service, team experiments.Team, start time.Time) []uuid.UUID {
	const contacts, nExps, clicks = 100_000, 10, 200_000
	rng := rand.New(rand.NewPCG(1, 2))
	ids := make([]uuid.UUID, contacts)
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		rows := make([]experiments.Contact, 0, 1000)
		for i := range ids {
			ids[i] = uuid.Must(uuid.NewV7())
			rows = append(rows, experiments.Contact{ID: ids[i], TeamID: team.ID, Email: fmt.Sprintf("p%d@bench.test", i),
				EmailKey: fmt.Sprintf("p%d@bench.test", i), Attributes: map[string]string{}, Tags: []string{}, CreatedAt: start})
			if len(rows) == cap(rows) {
				if _, err := tx.NewInsert().Model(&rows).Exec(ctx); err != nil {
					return err
				}
				rows = rows[:0]
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	var expIDs []uuid.UUID
	for x := 0; x < nExps; x++ {
		e, err := exps.Create(ctx, team.ID, experiments.CreateInput{Name: fmt.Sprintf("Insight %d", x), Initiative: "Digest",
			Variants: []experiments.VariantInput{{Name: "control", Control: true, Subject: "s", HTML: `<a href="https://example.com/">x</a>`, Text: "t"}}})
		if err != nil {
			b.Fatal(err)
		}
		sentAt := start.Add(time.Duration(x) * 7 * 24 * time.Hour) // one experiment a week
		if _, err := db.NewUpdate().Table("experiments").Set("status = 'completed'").Set("launched_at = ?", sentAt).
			Set("completed_at = ?", sentAt.Add(time.Hour)).Where("id = ?", e.ID).Exec(ctx); err != nil {
			b.Fatal(err)
		}
		expIDs = append(expIDs, e.ID)
		vid := e.Variants[0].ID
		dels := make([]uuid.UUID, contacts)
		err = db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			rows := make([]experiments.Delivery, 0, 1000)
			for i, c := range ids {
				dels[i] = uuid.Must(uuid.NewV7())
				t := sentAt.Add(time.Duration(i) * time.Millisecond)
				rows = append(rows, experiments.Delivery{ID: dels[i], ExperimentID: e.ID, ContactID: c, VariantID: &vid, Batch: i / 100,
					Status: experiments.DeliverySent, Attempts: 1, SentAt: &t, UpdatedAt: t})
				if len(rows) == cap(rows) {
					if _, err := tx.NewInsert().Model(&rows).Exec(ctx); err != nil {
						return err
					}
					rows = rows[:0]
				}
			}
			// 20 000 clicks per experiment, over the two weeks after its send.
			cs := make([]tracking.Click, 0, 1000)
			seen := map[[2]any]bool{}
			clicked := map[int]bool{}
			for n := 0; n < clicks/nExps; n++ {
				i := rng.IntN(contacts)
				at := sentAt.Add(time.Minute + time.Duration(rng.Int64N(int64(14*24*time.Hour))))
				cs = append(cs, tracking.Click{ID: uuid.Must(uuid.NewV7()), DeliveryID: dels[i], ExperimentID: e.ID, VariantID: vid,
					ContactID: ids[i], ClickedAt: at, Method: "GET", UserAgent: "bench", IP: "203.0.113.0/24"})
				wk := tracking.WeekOf(at, time.UTC).String()
				if k := [2]any{i, wk}; !seen[k] {
					seen[k] = true
					if _, err := tx.NewRaw("INSERT INTO weekly_clickers (experiment_id, week, contact_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
						e.ID, wk, ids[i]).Exec(ctx); err != nil {
						return err
					}
				}
				if _, err := tx.NewRaw("INSERT INTO first_clicks (delivery_id, experiment_id, variant_id, clicked_at, send_week) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
					dels[i], e.ID, vid, at, tracking.WeekOf(sentAt, time.UTC).String()).Exec(ctx); err != nil {
					return err
				}
				clicked[i] = true
				if len(cs) == cap(cs) {
					if _, err := tx.NewInsert().Model(&cs).Exec(ctx); err != nil {
						return err
					}
					cs = cs[:0]
				}
			}
			return tracking.NewStore(tx).AddSends(ctx, e.ID, vid, tracking.WeekOf(sentAt, time.UTC).String(), contacts, len(clicked))
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return expIDs
}
