package tracking

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"slicelab/migrations"
	"slicelab/migrations/migrationstest"
)

// testDB is a migrated database as the service sets it up: on SQLite a main
// file and the ledger's file beside it; on PostgreSQL one database.
type testDB struct {
	main   *bun.DB
	ledger *bun.DB // the ledger's writer (on PostgreSQL a pool of its own on the same database)
	read   *bun.DB // what the projector reads the ledger with
	pg     bool
	// path (SQLite) or URL (PostgreSQL) of the main database, for a child process.
	where string
}

func migrateTest(t testing.TB, d *testDB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := migrations.Up(ctx, d.main); err != nil {
		t.Fatalf("migrations.Up: %v", err)
	}
	if _, err := migrations.LedgerUp(ctx, d.ledger); err != nil {
		t.Fatalf("migrations.LedgerUp: %v", err)
	}
}

// openSQLite opens (and migrates) the SQLite files under dir.
func openSQLite(t testing.TB, dir string) *testDB {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(dir, "slicelab.db")
	main, err := migrations.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	ledger, err := migrations.LedgerWriter.Open(ctx, migrations.LedgerPath(path))
	if err != nil {
		t.Fatal(err)
	}
	read, err := migrations.LedgerReader.Open(ctx, migrations.LedgerPath(path))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { read.Close(); ledger.Close(); main.Close() })
	d := &testDB{main: main, ledger: ledger, read: read, where: dir}
	migrateTest(t, d)
	return d
}

// openTestDB opens a migrated SQLite database in a temporary folder.
func openTestDB(t testing.TB) *testDB {
	t.Helper()
	return openSQLite(t, t.TempDir())
}

// testPostgresURL creates a fresh database on the test server (dropped afterwards).
func testPostgresURL(t testing.TB) string {
	t.Helper()
	return migrationstest.PostgresURL(t, "slicelab_trk")
}

func openPostgresURL(t testing.TB, dsn string, conns int) *bun.DB {
	t.Helper()
	sqldb, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	sqldb.SetMaxOpenConns(conns)
	db := bun.NewDB(sqldb, pgdialect.New())
	t.Cleanup(func() { db.Close() })
	return db
}

// openPostgres opens a fresh, migrated PostgreSQL database (or skips).
func openPostgres(t testing.TB) *testDB {
	t.Helper()
	dsn := testPostgresURL(t)
	main := openPostgresURL(t, dsn, 10)
	// The ledger's writers carry their name, as the service's do (Ledger.WrittenBy).
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("application_name", LedgerWriterName)
	u.RawQuery = q.Encode()
	d := &testDB{main: main, ledger: openPostgresURL(t, u.String(), 4), read: main, pg: true, where: dsn}
	migrateTest(t, d)
	return d
}

// forEachDB runs f on SQLite, and on PostgreSQL when SLICELAB_TEST_POSTGRES_URL is set.
func forEachDB(t *testing.T, f func(t *testing.T, d *testDB)) {
	t.Run("sqlite", func(t *testing.T) { f(t, openTestDB(t)) })
	t.Run("postgres", func(t *testing.T) {
		if os.Getenv("SLICELAB_TEST_POSTGRES_URL") == "" {
			t.Skip("SLICELAB_TEST_POSTGRES_URL is not set")
		}
		f(t, openPostgres(t))
	})
}

func (d *testDB) newRecorder(t testing.TB, cfg RecorderConfig) *Recorder {
	t.Helper()
	r := NewRecorder(NewLedger(d.ledger), cfg)
	t.Cleanup(r.Close)
	return r
}

func (d *testDB) newProjector(deliveries Deliveries, rules Rules) *Projector {
	var dp Deliveries
	if deliveries != nil {
		dp = deliveries
	}
	return NewProjector(d.main, d.readLedger(), dp, ProjectorConfig{Rules: rules, Gap: time.Millisecond,
		Every: 20 * time.Millisecond}, nil)
}

// readLedger is the ledger as the service's projector reads it.
func (d *testDB) readLedger() *Ledger {
	if d.pg {
		return NewLedger(d.read).WrittenBy(LedgerWriterName)
	}
	return NewLedger(d.read)
}

// project runs steps of p until it has caught up. (On PostgreSQL a step
// may find nothing while a ledger writer's transaction is older than the
// ledger's newest rows.)
func project(t testing.TB, p *Projector) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(60 * time.Second)
	for {
		n, caughtUp, err := p.Step(ctx)
		if err != nil {
			t.Fatalf("projector step: %v", err)
		}
		if caughtUp {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the projector does not catch up")
		}
		if n == 0 {
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// stepRows runs steps of p until they have projected at least want rows.
func stepRows(t testing.TB, p *Projector, want int) int {
	t.Helper()
	got := 0
	waitFor(t, 30*time.Second, fmt.Sprintf("%s projects %d rows", p.cfg.Holder, want), func() bool {
		n, _, err := p.Step(context.Background())
		if err != nil {
			t.Fatalf("projector step: %v", err)
		}
		got += n
		return got >= want
	})
	return got
}

func (d *testDB) ledgerCount(t testing.TB) (rows, distinct int) {
	t.Helper()
	rows, distinct, err := NewLedger(d.read).Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return rows, distinct
}

func countClicks(t testing.TB, db *bun.DB, where string, args ...any) int {
	t.Helper()
	q := db.NewSelect().Table("clicks")
	if where != "" {
		q = q.Where(where, args...)
	}
	n, err := q.Count(context.Background())
	if err != nil {
		t.Fatalf("count clicks: %v", err)
	}
	return n
}

// fakeDeliveries stands in for the experiments package, which owns
// deliveries: the facts the projector looks up, set by the test.
type fakeDeliveries struct {
	mu    sync.Mutex
	facts map[uuid.UUID]DeliveryFacts
	// derive, when set, answers for deliveries the test did not set.
	derive func(uuid.UUID) (DeliveryFacts, bool)
}

func (f *fakeDeliveries) set(id uuid.UUID, df DeliveryFacts) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.facts == nil {
		f.facts = map[uuid.UUID]DeliveryFacts{}
	}
	f.facts[id] = df
}

func (f *fakeDeliveries) DeliveryFacts(_ context.Context, _ bun.IDB, ids []uuid.UUID) (map[uuid.UUID]DeliveryFacts, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[uuid.UUID]DeliveryFacts{}
	for _, id := range ids {
		if df, ok := f.facts[id]; ok {
			out[id] = df
		} else if f.derive != nil {
			if df, ok := f.derive(id); ok {
				out[id] = df
			}
		}
	}
	return out, nil
}

// derivedFacts are facts every process computes alike from the delivery id
// (for a child process): the contact, a send time a day before t0 or at t0
// (so that the bot window rule has work), in a time zone whose weeks do not
// start with UTC's.
func derivedFacts(experiment uuid.UUID, t0 time.Time) func(uuid.UUID) (DeliveryFacts, bool) {
	la, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		la = time.UTC
	}
	early, late := t0.Add(-24*time.Hour), t0
	return func(d uuid.UUID) (DeliveryFacts, bool) {
		h := sha256.Sum256(d[:])
		contact, _ := uuid.FromBytes(h[:16])
		sent := &early
		if h[16]%2 == 0 {
			sent = &late
		}
		return DeliveryFacts{ExperimentID: experiment, ContactID: contact, SentAt: sent, Location: la}, true
	}
}

// closeWithin calls r.Close and fails if it does not return in time.
func closeWithin(t *testing.T, r *Recorder, d time.Duration) {
	t.Helper()
	done := make(chan struct{})
	go func() { r.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("Recorder.Close did not return within %v", d)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
