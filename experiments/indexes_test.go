package experiments

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"
)

// sqlRecorder keeps the SQL of every query run through a bun.DB.
type sqlRecorder struct {
	mu  sync.Mutex
	all []string
}

func (r *sqlRecorder) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context { return ctx }
func (r *sqlRecorder) AfterQuery(_ context.Context, e *bun.QueryEvent) {
	r.mu.Lock()
	r.all = append(r.all, e.Query)
	r.mu.Unlock()
}

func (r *sqlRecorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.all
	r.all = nil
	return out
}

// TestPendingQueriesUseThePartialIndex: the statements that look for an
// experiment's deliveries still to send find them through
// deliveries_pending_idx on SQLite, which uses a partial index only when a
// query repeats its condition or names one of its statuses. Written another
// way (an IN list, say), they would walk every delivery of the experiment:
// a million rows after every send batch.
func TestPendingQueriesUseThePartialIndex(t *testing.T) {
	ctx := context.Background()
	db := openMigrated(t, false)
	svc, ds, _ := sendingDeliveries(t, db, 10)
	id := ds[0].ExperimentID
	rec := &sqlRecorder{}
	db.AddQueryHook(rec)
	now := time.Now().UTC()
	steps := map[string]func() error{
		"completeIfDone":           func() error { return svc.completeIfDone(ctx, db, id) },
		"cancelPending":            func() error { return cancelPending(ctx, db, id, now) },
		"cancelPendingIfCancelled": func() error { return cancelPendingIfCancelled(ctx, db, id, now) },
	}
	for name, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var plan []string
		for _, q := range rec.take() {
			if !strings.Contains(q, "deliveries") || strings.HasPrefix(q, "EXPLAIN") {
				continue
			}
			rows, err := db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			for rows.Next() {
				var a, b, c int
				var d string
				if err := rows.Scan(&a, &b, &c, &d); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, d)
			}
			rows.Close()
			rec.take() // the EXPLAIN itself
		}
		if !strings.Contains(strings.Join(plan, "\n"), "deliveries_pending_idx") {
			t.Errorf("%s does not use deliveries_pending_idx:\n%s", name, strings.Join(plan, "\n"))
		}
	}
}
