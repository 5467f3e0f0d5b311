package main

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"

	"slicelab/experiments"
)

// BenchmarkReadsAtScale seeds one team with 1,000,000 contacts and one
// experiment with 1,000,000 deliveries directly in SQL (the counters'
// triggers run as they would), then times the two reads of product.md §14:
// the first page of the contacts list (API and page, with the total) and
// the experiment's results (≤ 20 ms and ≤ 50 ms), and the daily activity
// that the results page shows beside them.
//
//	go test ./cmd/slicelab -run '^$' -bench ReadsAtScale -benchtime 200x
//
// SLICELAB_BENCH_POSTGRES_URL=postgres://… runs it on PostgreSQL instead of SQLite.
func BenchmarkReadsAtScale(b *testing.B) {
	ctx := context.Background()
	const n = 1_000_000
	target := dbTarget{dsn: b.TempDir() + "/bench.db"}
	pg := false
	if u := os.Getenv("SLICELAB_BENCH_POSTGRES_URL"); u != "" {
		target, pg = dbTarget{postgres: true, dsn: u}, true
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
	team, err := exps.CreateTeam(ctx, "bench-"+uuid.NewString()[:8], "Bench")
	if err != nil {
		b.Fatal(err)
	}
	e, err := exps.Create(ctx, team.ID, experiments.CreateInput{Name: "Million", Initiative: "Digest", Variants: []experiments.VariantInput{
		{Name: "control", Control: true, Subject: "s", HTML: `<a href="https://example.com/">x</a>`, Text: "t"},
		{Name: "treatment", Subject: "s", HTML: `<a href="https://example.com/">y</a>`, Text: "t"}}})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC()
	if _, err := st.db.NewUpdate().Table("experiments").Set("status = 'completed'").Set("launched_at = ?", now).
		Set("completed_at = ?", now).Where("id = ?", e.ID).Exec(ctx); err != nil {
		b.Fatal(err)
	}
	v0, v1 := e.Variants[0].ID, e.Variants[1].ID
	seed := time.Now()
	// Ids are made of the row number (valid UUIDs, in order).
	var qs []string
	if pg {
		qs = []string{
			`INSERT INTO contacts (id, team_id, email, email_key, name, attributes, tags, created_at)
				SELECT ('01900000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, ?0, 'p' || i || '@bench.test', 'p' || i || '@bench.test',
					'P ' || i, '{"plan":"pro"}', '[]', ?2 FROM generate_series(0, ?3 - 1) AS i`,
			`INSERT INTO deliveries (id, experiment_id, contact_id, variant_id, batch, status, attempts, updated_at, sent_at)
				SELECT ('01910000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, ?1, ('01900000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'))::uuid,
					CASE WHEN i % 20 = 0 THEN NULL WHEN i % 2 = 0 THEN ?4::uuid ELSE ?5::uuid END, i / 100,
					CASE WHEN i % 20 = 0 THEN 'held_out' WHEN i % 50 = 1 THEN 'failed' WHEN i % 97 = 3 THEN 'suppressed' ELSE 'sent' END, 1, ?2, ?2
				FROM generate_series(0, ?3 - 1) AS i`,
		}
	} else {
		qs = []string{
			`WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i + 1 < ?3)
				INSERT INTO contacts (id, team_id, email, email_key, name, attributes, tags, created_at)
				SELECT printf('01900000-0000-7000-8000-%012x', i), ?0, 'p' || i || '@bench.test', 'p' || i || '@bench.test',
					'P ' || i, '{"plan":"pro"}', '[]', ?2 FROM s`,
			`WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i + 1 < ?3)
				INSERT INTO deliveries (id, experiment_id, contact_id, variant_id, batch, status, attempts, updated_at, sent_at)
				SELECT printf('01910000-0000-7000-8000-%012x', i), ?1, printf('01900000-0000-7000-8000-%012x', i),
					CASE WHEN i % 20 = 0 THEN NULL WHEN i % 2 = 0 THEN ?4 ELSE ?5 END, i / 100,
					CASE WHEN i % 20 = 0 THEN 'held_out' WHEN i % 50 = 1 THEN 'failed' WHEN i % 97 = 3 THEN 'suppressed' ELSE 'sent' END, 1, ?2, ?2
				FROM s`,
		}
	}
	// The counter of contacts is kept by imports; this seed is not one.
	qs = append(qs, `INSERT INTO contact_counts (team_id, shard, total) VALUES (?0, 0, ?3)`)
	for _, q := range qs {
		if _, err := st.db.NewRaw(q, team.ID, e.ID, now, n, v0, v1).Exec(ctx); err != nil {
			b.Fatal(err)
		}
	}
	// The daily sends are kept by the send path; this seed is not one.
	if _, err := st.db.NewRaw(`INSERT INTO daily_sends (experiment_id, variant_id, day, sent)
		SELECT experiment_id, variant_id, ?, count(*) FROM deliveries WHERE experiment_id = ? AND status = 'sent' AND variant_id IS NOT NULL
		GROUP BY experiment_id, variant_id`, now.Format(time.DateOnly), e.ID).Exec(ctx); err != nil {
		b.Fatal(err)
	}
	if pg {
		if _, err := st.db.ExecContext(ctx, "ANALYZE"); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("seeded %d contacts and %d deliveries in %s", n, n, time.Since(seed).Round(time.Second))
	page, err := exps.ListContacts(ctx, team.ID, "", 100)
	if err != nil || page.Total != n || len(page.Contacts) != 100 {
		b.Fatalf("contacts page: %d contacts, total %d, %v", len(page.Contacts), page.Total, err)
	}
	r, err := exps.Results(ctx, team.ID, e.ID)
	if err != nil {
		b.Fatal(err)
	}
	if got := r.Variants[0].Assigned + r.Variants[1].Assigned + r.Holdout.Assigned; got != n {
		b.Fatalf("results count %d deliveries, want %d", got, n)
	}
	b.Logf("results: %d + %d assigned, %d + %d sent, holdout %d", r.Variants[0].Assigned, r.Variants[1].Assigned, r.Variants[0].Sent, r.Variants[1].Sent, r.Holdout.Assigned)
	b.ResetTimer()
	b.Run("contacts_first_page", func(b *testing.B) {
		for b.Loop() {
			if _, err := exps.ListContacts(ctx, team.ID, "", 100); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/page")
	})
	b.Run("contacts_page_ui", func(b *testing.B) { // the page's list, its total and its counts
		for b.Loop() {
			if _, err := exps.SearchContacts(ctx, team.ID, "", "", 50); err != nil {
				b.Fatal(err)
			}
			if _, err := exps.ContactCounts(ctx, team.ID); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/page")
	})
	b.Run("results", func(b *testing.B) {
		for b.Loop() {
			if _, err := exps.Results(ctx, team.ID, e.ID); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/results")
	})
	b.Run("activity", func(b *testing.B) { // the results page's daily chart and click detail
		for b.Loop() {
			if _, err := exps.Activity(ctx, team.ID, e.ID); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/activity")
	})
	b.Run("experiment_with_progress", func(b *testing.B) {
		for b.Loop() {
			if _, err := exps.Get(ctx, team.ID, e.ID); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/get")
	})
}
