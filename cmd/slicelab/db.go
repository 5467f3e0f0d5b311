package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync/atomic"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/migrate"

	"slicelab/migrations"
	"slicelab/tracking"
)

// store is the database: bun on top, River's driver beside it on the same
// *sql.DB; and the click ledger's handles.
type store struct {
	db *bun.DB
	// ledger writes the click ledger; ledgerRead is what the projector reads
	// it with. On PostgreSQL the ledger is a table of the same database:
	// ledger is a small pool of its own (clicks never wait for a connection
	// that the API, River or the senders hold) and ledgerRead is db. On
	// SQLite it is a file of its own (migrations.LedgerPath) with one
	// writing connection and a reading pool.
	ledger, ledgerRead *bun.DB
	// read, on SQLite, is a pool of reading connections to the main file:
	// db sends its SELECTs outside transactions there (see readResolver),
	// so that pages, the API and the senders' lookups do not queue for the
	// one writing connection. nil on PostgreSQL (db is a pool already).
	read     *bun.DB
	reads    *readResolver
	path     string // SQLite: the main file
	postgres bool
	// checkpoints copy the SQLite files' write-ahead logs into the files
	// (see migrations.Checkpointer): no commit waits for that.
	checkpoints []*migrations.Checkpointer
}

// Pool sizes on PostgreSQL. The main pool serves the API, River's workers
// (send concurrency included) and the click projector. The ledger's pool has
// a connection per click writer and one for replaying the spool.
const (
	pgMainConns   = 20
	pgLedgerConns = clickWritersPG + 1
)

func openPostgres(ctx context.Context, dsn string, conns int) (*bun.DB, error) {
	sqldb, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("open PostgreSQL: %w", err)
	}
	sqldb.SetMaxOpenConns(conns)
	sqldb.SetMaxIdleConns(conns)
	db := bun.NewDB(sqldb, pgdialect.New())
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	return db, nil
}

func openStore(ctx context.Context, t dbTarget) (*store, error) {
	if t.postgres {
		// pgx keeps up to 512 prepared statements a connection, by their
		// SQL. bun spells a query's values into its SQL, so most of its
		// SELECTs are new text each time: with 20 connections that was
		// ~35 MB of dead SQL while sending at a million. 64 keep what repeats
		// (River's and the hand-written queries) hot.
		main, err := withDefaultParam(t.dsn, "statement_cache_capacity", "64")
		if err != nil {
			return nil, err
		}
		db, err := openPostgres(ctx, main, pgMainConns)
		if err != nil {
			return nil, err
		}
		// The ledger's sessions carry a name of their own: the projector
		// waits for their transactions only (tracking.Ledger.WrittenBy).
		dsn, err := withParam(t.dsn, "application_name", tracking.LedgerWriterName)
		if err != nil {
			db.Close()
			return nil, err
		}
		if !t.clickFsync { // the ledger's sessions only
			if dsn, err = withParam(dsn, "synchronous_commit", "off"); err != nil {
				db.Close()
				return nil, err
			}
		}
		ledger, err := openPostgres(ctx, dsn, pgLedgerConns)
		if err != nil {
			db.Close()
			return nil, err
		}
		return &store{db: db, ledger: ledger, ledgerRead: db, postgres: true}, nil
	}
	reads := &readResolver{}
	db, err := migrations.SQLitePool{BackgroundCheckpoints: true}.Open(ctx, t.dsn, bun.WithConnResolver(reads))
	if err != nil {
		return nil, err
	}
	st := &store{db: db, reads: reads, path: t.dsn}
	writer := migrations.LedgerWriter
	writer.BackgroundCheckpoints = true
	if !t.clickFsync { // WAL: commits are not fsynced, checkpoints are
		writer.Synchronous = "NORMAL"
	}
	if st.ledger, err = writer.Open(ctx, migrations.LedgerPath(t.dsn)); err != nil {
		st.Close()
		return nil, err
	}
	if st.ledgerRead, err = migrations.LedgerReader.Open(ctx, migrations.LedgerPath(t.dsn)); err != nil {
		st.Close()
		return nil, err
	}
	for _, path := range []string{t.dsn, migrations.LedgerPath(t.dsn)} {
		c, err := migrations.StartCheckpointer(ctx, path, migrations.CheckpointEvery)
		if err != nil {
			st.Close()
			return nil, err
		}
		st.checkpoints = append(st.checkpoints, c)
	}
	return st, nil
}

// sqliteReadConns is the size of the SQLite main file's reading pool.
const sqliteReadConns = 4

// readResolver sends bun's read-only queries (SELECTs that are not part of
// a transaction or a bun.Conn) to db, a pool of reading connections; every
// other statement goes to the writing pool. In WAL mode a read sees every
// transaction committed before it began, so a write followed by a read
// reads what was written, as on one connection.
type readResolver struct {
	db atomic.Pointer[sql.DB] // nil: everything to the writing pool
}

func (r *readResolver) ResolveConn(_ context.Context, q bun.Query) bun.IConn {
	if db := r.db.Load(); db != nil && bun.IsReadOnlyQuery(q) {
		return db
	}
	return nil
}

// Close does nothing: the store closes the reading pool.
func (r *readResolver) Close() error { return nil }

// withParam sets a query parameter of a postgres:// URL (pgx passes unknown
// ones to the server as run-time settings of the session).
func withParam(dsn, key, value string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("SLICELAB_DATABASE_URL: %w", err)
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// withDefaultParam is withParam unless the URL sets key already.
func withDefaultParam(dsn, key, value string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("SLICELAB_DATABASE_URL: %w", err)
	}
	if u.Query().Has(key) {
		return dsn, nil
	}
	return withParam(dsn, key, value)
}

func (s *store) Close() error {
	var errs []error
	for _, c := range s.checkpoints {
		errs = append(errs, c.Stop())
	}
	for _, db := range []*bun.DB{s.ledgerRead, s.ledger, s.read} {
		if db != nil && db != s.db {
			errs = append(errs, db.Close())
		}
	}
	errs = append(errs, s.db.Close())
	return errors.Join(errs...)
}

func (s *store) riverDriver() riverdriver.Driver[*sql.Tx] {
	if s.postgres {
		return riverdatabasesql.New(s.db.DB)
	}
	return riversqlite.New(s.db.DB)
}

// migrateLockKey is the PostgreSQL advisory lock that migrations hold.
const migrateLockKey = 0x736c6963656c6162 // "slicelab"

// migrateUp applies slicelab's migrations, the click ledger's and River's,
// in that order. On PostgreSQL it holds an advisory lock meanwhile, so
// instances starting together migrate one after the other (the later ones
// find nothing left to do).
func (s *store) migrateUp(ctx context.Context, out io.Writer) error {
	if s.postgres {
		conn, err := s.db.DB.Conn(ctx)
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", int64(migrateLockKey)); err != nil {
			return fmt.Errorf("migrate: take the migration lock: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", int64(migrateLockKey)) //nolint:errcheck // the session ends with conn anyway
	}
	return s.migrateAll(ctx, out)
}

// openReads opens the SQLite reading pool (see store.read) and sends
// reads there from now on. Called once the file is migrated (the writing
// pool has put it in WAL mode, and migrations read what they just wrote).
func (s *store) openReads(ctx context.Context) error {
	if s.postgres || s.read != nil {
		return nil
	}
	read, err := migrations.SQLitePool{Conns: sqliteReadConns, ReadOnly: true}.Open(ctx, s.path)
	if err != nil {
		return err
	}
	s.read = read
	s.reads.db.Store(read.DB)
	return nil
}

func (s *store) migrateAll(ctx context.Context, out io.Writer) error {
	group, err := migrations.Up(ctx, s.db)
	if err != nil {
		return err
	}
	if out != nil && !group.IsZero() {
		fmt.Fprintf(out, "applied %s\n", group)
	}
	group, err = migrations.LedgerUp(ctx, s.ledger)
	if err != nil {
		return err
	}
	if out != nil && !group.IsZero() {
		fmt.Fprintf(out, "applied click ledger %s\n", group)
	}
	rm, err := rivermigrate.New(s.riverDriver(), nil)
	if err != nil {
		return fmt.Errorf("migrate River: %w", err)
	}
	res, err := rm.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return fmt.Errorf("migrate River: %w", err)
	}
	if out != nil {
		for _, v := range res.Versions {
			fmt.Fprintf(out, "applied River migration %03d %s\n", v.Version, v.Name)
		}
	}
	return nil
}

func (s *store) migrateStatus(ctx context.Context, out io.Writer) error {
	for _, g := range []struct {
		label string
		m     *migrate.Migrator
	}{{"", migrations.NewMigrator(s.db)}, {"click ledger ", migrations.NewLedgerMigrator(s.ledger)}} {
		if err := g.m.Init(ctx); err != nil {
			return fmt.Errorf("migrate: init: %w", err)
		}
		ms, err := g.m.MigrationsWithStatus(ctx)
		if err != nil {
			return fmt.Errorf("migrate status: %w", err)
		}
		for _, mg := range ms {
			state := "pending"
			if mg.IsApplied() {
				state = "applied"
			}
			fmt.Fprintf(out, "%-8s %s%s_%s\n", state, g.label, mg.Name, mg.Comment)
		}
	}
	rm, err := rivermigrate.New(s.riverDriver(), nil)
	if err != nil {
		return fmt.Errorf("list the migrations of River: %w", err)
	}
	existing, err := rm.ExistingVersions(ctx)
	if err != nil && !strings.Contains(err.Error(), "no such table") && !strings.Contains(err.Error(), "does not exist") {
		return fmt.Errorf("list the migrations of River: %w", err)
	}
	all := rm.AllVersions()
	fmt.Fprintf(out, "River: %d of %d migrations applied\n", len(existing), len(all))
	return nil
}
