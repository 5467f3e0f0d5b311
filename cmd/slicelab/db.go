package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"strings"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"slicelab/migrations"
)

// store is the one database handle: bun on top, River's driver beside it on
// the same *sql.DB.
type store struct {
	db       *bun.DB
	postgres bool
}

func openStore(ctx context.Context, t dbTarget) (*store, error) {
	if t.postgres {
		sqldb, err := sql.Open("pgx", t.dsn)
		if err != nil {
			return nil, fmt.Errorf("open PostgreSQL: %w", err)
		}
		sqldb.SetMaxOpenConns(20)
		sqldb.SetMaxIdleConns(20)
		db := bun.NewDB(sqldb, pgdialect.New())
		if err := db.PingContext(ctx); err != nil {
			db.Close()
			return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
		}
		return &store{db: db, postgres: true}, nil
	}
	db, err := migrations.OpenSQLite(ctx, t.dsn)
	if err != nil {
		return nil, err
	}
	return &store{db: db}, nil
}

func (s *store) Close() error { return s.db.Close() }

func (s *store) riverDriver() riverdriver.Driver[*sql.Tx] {
	if s.postgres {
		return riverdatabasesql.New(s.db.DB)
	}
	return riversqlite.New(s.db.DB)
}

// migrateUp applies slicelab's migrations and River's, in that order.
func (s *store) migrateUp(ctx context.Context, out io.Writer) error {
	group, err := migrations.Up(ctx, s.db)
	if err != nil {
		return err
	}
	if out != nil && !group.IsZero() {
		fmt.Fprintf(out, "applied %s\n", group)
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
	m := migrations.NewMigrator(s.db)
	if err := m.Init(ctx); err != nil {
		return fmt.Errorf("migrate: init: %w", err)
	}
	ms, err := m.MigrationsWithStatus(ctx)
	if err != nil {
		return fmt.Errorf("migrate status: %w", err)
	}
	for _, mg := range ms {
		state := "pending"
		if mg.IsApplied() {
			state = "applied"
		}
		fmt.Fprintf(out, "%-8s %s_%s\n", state, mg.Name, mg.Comment)
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
