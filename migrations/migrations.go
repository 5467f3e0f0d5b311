// Package migrations holds slicelab's schema as embedded bun SQL migrations.
//
// Every file is written in the SQL subset that PostgreSQL and SQLite both accept
// (UUID, TEXT, BIGINT, INTEGER, BOOLEAN, TIMESTAMPTZ, DOUBLE PRECISION), so one set
// of files serves both databases. Identifiers come from the application (UUIDv7),
// timestamps are written by the application in UTC. River's own tables are
// migrated beside these by cmd/slicelab (see its migrate command).
package migrations

import (
	"context"
	"embed"
	"fmt"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"
)

// Migrations is the ordered set of schema migrations.
var Migrations = migrate.NewMigrations()

//go:embed *.sql
var sqlFiles embed.FS

func init() {
	if err := Migrations.Discover(sqlFiles); err != nil {
		panic(err)
	}
}

// Up applies every pending migration to db. Each is marked applied only once
// it has run, so a failed file is tried again next time.
func Up(ctx context.Context, db *bun.DB) (*migrate.MigrationGroup, error) {
	m := NewMigrator(db)
	if err := m.Init(ctx); err != nil {
		return nil, fmt.Errorf("migrations: init: %w", err)
	}
	g, err := m.Migrate(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	return g, nil
}

// NewMigrator returns bun's migrator over slicelab's migrations.
func NewMigrator(db *bun.DB) *migrate.Migrator {
	return migrate.NewMigrator(db, Migrations, migrate.WithMarkAppliedOnSuccess(true))
}
