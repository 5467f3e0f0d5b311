package experiments

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slicelab/tracking"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// The cost of recording send outcomes, per message, in groups of 16
// (SLICELAB_BENCH_GROUP=n: of n): the ownership check, the UPDATE (with the
// counter triggers and indexes of deliveries), the weekly and daily
// counters, and the commit. SLICELAB_BENCH_POSTGRES=1 runs it on PostgreSQL
// (SLICELAB_TEST_POSTGRES_URL). On SQLite a group costs about 180 µs plus
// 30 µs a message (1: 215 µs, 4: 98, 16: 48, 32: 36 µs a message).
//
//	go test ./experiments -run '^$' -bench SendOutcomes -benchtime 20000x
func BenchmarkSendOutcomes(b *testing.B) {
	ctx := context.Background()
	db := openMigrated(b, os.Getenv("SLICELAB_BENCH_POSTGRES") != "")
	svc, ds, job := sendingDeliveries(b, db, b.N)
	w := NewSender(svc, nil, nil, SenderConfig{}, slog.New(slog.DiscardHandler))
	group := 16
	if g, err := strconv.Atoi(os.Getenv("SLICELAB_BENCH_GROUP")); err == nil && g > 0 {
		group = g
	}
	// SLICELAB_BENCH_SPREAD=n takes each group's outcomes from n different
	// parts of the audience in turn, as n senders working on n batches do.
	if n, err := strconv.Atoi(os.Getenv("SLICELAB_BENCH_SPREAD")); err == nil && n > 1 {
		ds = spread(ds, n)
	}
	b.ResetTimer()
	for start := 0; start < len(ds); start += group {
		flushGroup(b, ctx, w, ds[start:min(len(ds), start+group)], job)
	}
}

// spread reorders ds as n senders would finish them: one from each of n
// equal parts in turn.
func spread(ds []Delivery, n int) []Delivery {
	part := (len(ds) + n - 1) / n
	out := make([]Delivery, 0, len(ds))
	for i := range part {
		for p := range n {
			if j := p*part + i; j < len(ds) {
				out = append(out, ds[j])
			}
		}
	}
	return out
}

// sendingDeliveries makes n deliveries of a new experiment (n contacts of a
// new team), each claimed by attempt 1 of job: as a send job holds them.
func sendingDeliveries(tb testing.TB, db *bun.DB, n int) (*Service, []Delivery, int64) {
	tb.Helper()
	ctx := context.Background()
	svc := NewService(db, Config{}, Deps{})
	team, err := svc.CreateTeam(ctx, "bench", "Bench")
	if err != nil {
		tb.Fatal(err)
	}
	var csv strings.Builder
	csv.WriteString("email,name\n")
	for i := range n {
		fmt.Fprintf(&csv, "p%d@bench.test,P %d\n", i, i)
	}
	if _, err := svc.ImportContactsCSV(ctx, team.ID, strings.NewReader(csv.String())); err != nil {
		tb.Fatal(err)
	}
	e, err := svc.Create(ctx, team.ID, CreateInput{Name: "Outcomes", Initiative: "Bench", Variants: []VariantInput{
		{Name: "control", Control: true, Subject: "s", HTML: `<a href="https://example.com/">x</a>`, Text: "t"},
		{Name: "treatment", Subject: "s", HTML: `<a href="https://example.com/">y</a>`, Text: "t"}}})
	if err != nil {
		tb.Fatal(err)
	}
	var contacts []uuid.UUID
	if err := db.NewSelect().Table("contacts").Column("id").Where("team_id = ?", team.ID).Order("id").Scan(ctx, &contacts); err != nil {
		tb.Fatal(err)
	}
	now := time.Now().UTC()
	job := int64(1)
	ds := make([]Delivery, len(contacts))
	for i, c := range contacts {
		v := e.Variants[i%2].ID
		ds[i] = Delivery{ID: tracking.NewID(), ExperimentID: e.ID, ContactID: c, VariantID: &v, Batch: i / 100, Status: DeliverySending,
			Attempts: 1, UpdatedAt: now, JobID: &job, JobAttempt: 1}
	}
	for start := 0; start < len(ds); start += 1000 {
		part := ds[start:min(len(ds), start+1000)]
		if _, err := db.NewInsert().Model(&part).Returning("NULL").Exec(ctx); err != nil {
			tb.Fatal(err)
		}
	}
	return svc, ds, job
}

// flushGroup records the deliveries as sent, as one group of outcomes.
func flushGroup(tb testing.TB, ctx context.Context, w *Sender, ds []Delivery, job int64) {
	tb.Helper()
	var g []*commitWaiter
	for _, d := range ds {
		g = append(g, &commitWaiter{r: sendRecord{job: job, attempt: 1, d: d, loc: time.UTC}, res: make(chan recordResult, 1)})
	}
	res, err := w.flushTx(ctx, g)
	if err != nil {
		tb.Fatal(err)
	}
	for i := range res {
		if !res[i].owned {
			tb.Fatalf("delivery %s not owned", ds[i].ID)
		}
	}
}
