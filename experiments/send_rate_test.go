package experiments

import (
	"context"
	"database/sql"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"golang.org/x/time/rate"

	"slicelab/migrations"
	"slicelab/migrations/migrationstest"
)

// openMigrated returns a migrated database: a temporary SQLite file, or a
// fresh PostgreSQL database when pg (skipped without SLICELAB_TEST_POSTGRES_URL).
func openMigrated(t testing.TB, pg bool) *bun.DB {
	t.Helper()
	ctx := context.Background()
	var db *bun.DB
	if !pg {
		var err error
		if db, err = migrations.OpenSQLite(ctx, filepath.Join(t.TempDir(), "slicelab.db")); err != nil {
			t.Fatal(err)
		}
	} else {
		sqldb, err := sql.Open("pgx", migrationstest.PostgresURL(t, "slicelab_exp"))
		if err != nil {
			t.Fatal(err)
		}
		db = bun.NewDB(sqldb, pgdialect.New())
	}
	t.Cleanup(func() { db.Close() })
	if _, err := migrations.Up(ctx, db); err != nil {
		t.Fatal(err)
	}
	return db
}

// SLICELAB_SEND_RATE holds across instances: each sending process takes
// its share, an instance that stops gives its share back at once, and one
// that was killed (no longer noting itself) stops counting after
// RateShareWindow.
func TestSendRateSharedAcrossInstances(t *testing.T) {
	for _, pg := range []bool{false, true} {
		name := map[bool]string{false: "sqlite", true: "postgres"}[pg]
		t.Run(name, func(t *testing.T) {
			db := openMigrated(t, pg)
			ctx := context.Background()
			now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
			clock := func() time.Time { return now }
			svc := NewService(db, Config{}, Deps{Now: clock})
			newSender := func() *Sender {
				return NewSender(svc, nil, nil, SenderConfig{Rate: 60}, slog.New(slog.DiscardHandler))
			}
			share := func(w *Sender, want int) {
				t.Helper()
				n, err := w.ShareRate(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if n != want {
					t.Fatalf("%d instances share the rate, want %d", n, want)
				}
				if got, wantRate := w.limiter.Limit(), rate.Limit(60.0/float64(want)); got != wantRate {
					t.Fatalf("limit %v messages/s, want %v", got, wantRate)
				}
			}
			a, b := newSender(), newSender()
			share(a, 1)
			share(b, 2)
			share(a, 2)
			c := newSender()
			share(c, 3)
			c.Close() // stopped: its share is given back at the others' next note
			share(a, 2)
			// b is killed: it notes itself no more.
			now = now.Add(RateShareWindow + time.Second)
			share(a, 1)
			a.Close()
			b.Close()

			// Without a rate there is nothing to share and nothing is noted.
			free := NewSender(svc, nil, nil, SenderConfig{}, slog.New(slog.DiscardHandler))
			if n, err := free.ShareRate(ctx); err != nil || n != 1 || free.limiter.Limit() != rate.Inf {
				t.Fatalf("no rate: %d, %v, limit %v", n, err, free.limiter.Limit())
			}
			var left int
			if err := db.NewRaw("SELECT count(*) FROM send_instances").Scan(ctx, &left); err != nil {
				t.Fatal(err)
			}
			if left != 0 {
				t.Fatalf("%d instances still noted after every sender closed", left)
			}
		})
	}
}

// StartRateShare sets the share before it returns and stops with Close.
func TestStartRateShare(t *testing.T) {
	db := openMigrated(t, false)
	svc := NewService(db, Config{}, Deps{})
	a := NewSender(svc, nil, nil, SenderConfig{Rate: 40}, slog.New(slog.DiscardHandler))
	b := NewSender(svc, nil, nil, SenderConfig{Rate: 40}, slog.New(slog.DiscardHandler))
	a.StartRateShare()
	b.StartRateShare()
	if got := b.limiter.Limit(); got != 20 {
		t.Fatalf("the second instance's limit is %v, want 20", got)
	}
	b.Close()
	a.Close()
}
