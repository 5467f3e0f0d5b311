package migrations

import (
	"context"
	"database/sql"
	"io/fs"
	"path/filepath"
	"slicelab/migrations/migrationstest"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/uuid"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/migrate"
)

// forEachDB runs f on a fresh SQLite file, and on a fresh PostgreSQL
// database when SLICELAB_TEST_POSTGRES_URL is set.
func forEachDB(t *testing.T, f func(t *testing.T, db *bun.DB)) {
	t.Run("sqlite", func(t *testing.T) {
		db, err := OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "m.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		f(t, db)
	})
	t.Run("postgres", func(t *testing.T) {
		sqldb, err := sql.Open("pgx", migrationstest.PostgresURL(t, "slicelab_mig"))
		if err != nil {
			t.Fatal(err)
		}
		db := bun.NewDB(sqldb, pgdialect.New())
		t.Cleanup(func() { db.Close() })
		f(t, db)
	})
}

func tables(t *testing.T, db *bun.DB) []string {
	t.Helper()
	var names []string
	q := "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
	if db.Dialect().Name().String() == "pg" {
		q = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
	}
	if err := db.NewRaw(q).Scan(context.Background(), &names); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range names {
		if !strings.HasPrefix(n, "bun_") {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// Every table the migrations leave has an owner, and every owner's table
// exists. The ledger's group is applied to the same database here, as on
// PostgreSQL (on SQLite the service keeps it in a file of its own).
func TestOwnersListEveryTable(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *bun.DB) {
		if _, err := Up(context.Background(), db); err != nil {
			t.Fatal(err)
		}
		if _, err := LedgerUp(context.Background(), db); err != nil {
			t.Fatal(err)
		}
		have := tables(t, db)
		for _, n := range have {
			if Owners[n] == "" {
				t.Errorf("table %s has no owner in migrations.Owners", n)
			}
		}
		for n := range Owners {
			if !slices.Contains(have, n) {
				t.Errorf("migrations.Owners lists %s, which the migrations do not create", n)
			}
		}
	})
}

// upTo applies the SQL migrations whose names sort before stop.
func upTo(t *testing.T, db *bun.DB, stop string) {
	t.Helper()
	sub := fstest.MapFS{}
	err := fs.WalkDir(sqlFiles, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || p >= stop {
			return err
		}
		b, err := sqlFiles.ReadFile(p)
		sub[p] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	ms := migrate.NewMigrations()
	if err := discover(ms, sub); err != nil {
		t.Fatal(err)
	}
	m := migrate.NewMigrator(db, ms, migrate.WithMarkAppliedOnSuccess(true))
	ctx := context.Background()
	if err := m.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
}

// Existing rows survive the identity model and the first_clicks move:
// members become users (one per address across teams) with viewer
// memberships, their allocation answers follow them, and the first human
// clicks of deliveries move to first_clicks with their send week in the
// team's time zone.
func TestMigrateExistingRows(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		upTo(t, db, "20261129")
		now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
		exec := func(q string, args ...any) {
			t.Helper()
			if _, err := db.NewRaw(q, args...).Exec(ctx); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		teamA, teamB := uuid.New(), uuid.New()
		exec("INSERT INTO teams (id, slug, name, created_at, time_zone) VALUES (?, 'a', 'A', ?, 'America/Los_Angeles'), (?, 'b', 'B', ?, 'UTC')", teamA, now, teamB, now)
		ada1, ada2, bob := uuid.New(), uuid.New(), uuid.New()
		exec("INSERT INTO members (id, team_id, email, email_key, name, created_at) VALUES (?, ?, 'Ada@example.com', 'ada@example.com', 'Ada', ?), (?, ?, 'ada@example.com', 'ada@example.com', 'Ada B', ?), (?, ?, 'bob@example.com', 'bob@example.com', 'Bob', ?)",
			ada1, teamA, now, ada2, teamB, now.Add(time.Hour), bob, teamA, now)
		cat := uuid.New()
		exec("INSERT INTO allocation_categories (id, team_id, position, name, elective) VALUES (?, ?, 0, 'KTLO', FALSE)", cat, teamB)
		resp := uuid.New()
		exec("INSERT INTO allocation_responses (id, team_id, member_id, week, created_at, updated_at) VALUES (?, ?, ?, '2026-W47', ?, ?)", resp, teamB, ada2, now, now)
		exec("INSERT INTO allocation_shares (response_id, category_id, percent) VALUES (?, ?, 100)", resp, cat)
		exp, variant, contact, delivery := uuid.New(), uuid.New(), uuid.New(), uuid.New()
		exec("INSERT INTO experiments (id, team_id, name, status, holdout, created_at, updated_at) VALUES (?, ?, 'E', 'running', 0, ?, ?)", exp, teamA, now, now)
		exec(`INSERT INTO variants (id, experiment_id, position, name, weight, control, subject, html_body, text_body, html_compiled, text_compiled)
			VALUES (?, ?, 0, 'A', 1, TRUE, 's', 'h', 't', 'h', 't')`, variant, exp)
		exec("INSERT INTO contacts (id, team_id, email, email_key, created_at) VALUES (?, ?, 'c@example.com', 'c@example.com', ?)", contact, teamA, now)
		// Sent on Monday 23 November 05:00 UTC: still Sunday, week 47, in Los Angeles.
		sent := time.Date(2026, 11, 23, 5, 0, 0, 0, time.UTC)
		exec("INSERT INTO deliveries (id, experiment_id, contact_id, variant_id, batch, status, sent_at, first_human_click_at, updated_at) VALUES (?, ?, ?, ?, 0, 'sent', ?, ?, ?)",
			delivery, exp, contact, variant, sent, sent.Add(time.Hour), now)
		for i, automated := range []bool{false, false, true} {
			exec(`INSERT INTO clicks (id, delivery_id, experiment_id, variant_id, contact_id, link_idx, clicked_at, method, user_agent, ip, automated, reason)
				VALUES (?, ?, ?, ?, ?, 0, ?, 'GET', 'Mozilla/5.0', '203.0.113.0/24', ?, '')`,
				uuid.New(), delivery, exp, variant, contact, sent.Add(time.Duration(i+1)*time.Hour), automated)
		}

		if _, err := Up(ctx, db); err != nil {
			t.Fatalf("migrate the rest: %v", err)
		}
		var users []struct {
			ID       uuid.UUID `bun:"id"`
			EmailKey string    `bun:"email_key"`
		}
		if err := db.NewRaw("SELECT id, email_key FROM users ORDER BY email_key").Scan(ctx, &users); err != nil {
			t.Fatal(err)
		}
		if len(users) != 2 || users[0].ID != ada1 || users[1].ID != bob {
			t.Fatalf("users = %+v, want ada (%s) and bob (%s)", users, ada1, bob)
		}
		var ms []struct {
			TeamID uuid.UUID `bun:"team_id"`
			UserID uuid.UUID `bun:"user_id"`
			Role   string    `bun:"role"`
		}
		if err := db.NewRaw("SELECT team_id, user_id, role FROM memberships").Scan(ctx, &ms); err != nil {
			t.Fatal(err)
		}
		if len(ms) != 3 {
			t.Fatalf("memberships = %+v, want 3", ms)
		}
		for _, m := range ms {
			if m.Role != "viewer" {
				t.Errorf("membership %+v: role %s, want viewer", m, m.Role)
			}
		}
		var r []struct {
			UserID uuid.UUID `bun:"user_id"`
			TeamID uuid.UUID `bun:"team_id"`
			N      int       `bun:"n"`
		}
		if err := db.NewRaw("SELECT r.user_id, r.team_id, (SELECT count(*) FROM allocation_shares s WHERE s.response_id = r.id) AS n FROM allocation_responses r").Scan(ctx, &r); err != nil {
			t.Fatal(err)
		}
		if len(r) != 1 || r[0].UserID != ada1 || r[0].TeamID != teamB || r[0].N != 1 {
			t.Errorf("allocation answers = %+v, want ada's (%s) in team B with one share", r, ada1)
		}
		var fc []struct {
			DeliveryID uuid.UUID `bun:"delivery_id"`
			SendWeek   string    `bun:"send_week"`
			ClickedAt  time.Time `bun:"clicked_at"`
		}
		if err := db.NewRaw("SELECT delivery_id, send_week, clicked_at FROM first_clicks").Scan(ctx, &fc); err != nil {
			t.Fatal(err)
		}
		if len(fc) != 1 || fc[0].DeliveryID != delivery || fc[0].SendWeek != "2026-W47" || !fc[0].ClickedAt.Equal(sent.Add(time.Hour)) {
			t.Errorf("first_clicks = %+v, want delivery %s clicked at %v, sent in 2026-W47", fc, delivery, sent.Add(time.Hour))
		}
		// The per-variant click counters start from the clicks classified so far.
		var vc []struct {
			VariantID       uuid.UUID `bun:"variant_id"`
			ExperimentID    uuid.UUID `bun:"experiment_id"`
			HumanClickers   int       `bun:"human_clickers"`
			Clicks          int       `bun:"clicks"`
			AutomatedClicks int       `bun:"automated_clicks"`
		}
		if err := db.NewRaw("SELECT variant_id, experiment_id, human_clickers, clicks, automated_clicks FROM variant_clicks").Scan(ctx, &vc); err != nil {
			t.Fatal(err)
		}
		if len(vc) != 1 || vc[0].VariantID != variant || vc[0].ExperimentID != exp || vc[0].HumanClickers != 1 || vc[0].Clicks != 2 || vc[0].AutomatedClicks != 1 {
			t.Errorf("variant_clicks = %+v, want variant %s with 1 clicker, 2 human clicks, 1 automated", vc, variant)
		}
		// Daily sends start from the deliveries sent, on the team's day: the
		// Monday 05:00 UTC send was on Sunday in Los Angeles.
		var ds []struct {
			VariantID uuid.UUID `bun:"variant_id"`
			Day       string    `bun:"day"`
			Sent      int       `bun:"sent"`
		}
		if err := db.NewRaw("SELECT variant_id, day, sent FROM daily_sends").Scan(ctx, &ds); err != nil {
			t.Fatal(err)
		}
		if len(ds) != 1 || ds[0].VariantID != variant || ds[0].Day != "2026-11-22" || ds[0].Sent != 1 {
			t.Errorf("daily_sends = %+v, want one send of variant %s on 2026-11-22", ds, variant)
		}
		var positions []int64
		if err := db.NewRaw("SELECT position_seq FROM click_projection WHERE name = 'clicks'").Scan(ctx, &positions); err != nil {
			t.Fatal(err)
		}
		if len(positions) != 1 || positions[0] != 0 {
			t.Errorf("click_projection positions %v, want one at the start of the ledger", positions)
		}
		// Deleting a user's team membership leaves other rows alone; dropping
		// the old tables cascaded nothing.
		if n, _ := db.NewSelect().Table("allocation_shares").Count(ctx); n != 1 {
			t.Errorf("%d allocation shares left, want 1", n)
		}
	})
}

// A migration whose statement fails stops the migration with the error and
// is not marked applied, so it runs again next time (bun's own SQL
// migrations swallow the error).
func TestFailedMigrationIsNotApplied(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *bun.DB) {
		ms := migrate.NewMigrations()
		fsys := fstest.MapFS{
			"20990101000001_good.tx.up.sql": {Data: []byte("CREATE TABLE probe_a (x INTEGER);")},
			"20990101000002_bad.tx.up.sql":  {Data: []byte("CREATE TABLE probe_b (x INTEGER);\n--bun:split\nINSERT INTO nowhere VALUES (1);")},
		}
		if err := discover(ms, fsys); err != nil {
			t.Fatal(err)
		}
		m := migrate.NewMigrator(db, ms, migrate.WithMarkAppliedOnSuccess(true))
		ctx := context.Background()
		if err := m.Init(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Migrate(ctx); err == nil || !strings.Contains(err.Error(), "statement 2") {
			t.Fatalf("Migrate = %v, want the failed statement", err)
		}
		applied, err := m.AppliedMigrations(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(applied) != 1 || applied[0].Name != "20990101000001" {
			t.Errorf("applied %v, want only the good migration", applied)
		}
		if slices.Contains(tables(t, db), "probe_b") {
			t.Error("the failed migration's first statement was kept")
		}
	})
}
