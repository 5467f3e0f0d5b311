// Package migrations holds slicelab's schema as embedded bun SQL migrations.
//
// Every file is written in the SQL subset that PostgreSQL and SQLite both accept
// (UUID, TEXT, BIGINT, INTEGER, BOOLEAN, TIMESTAMPTZ, DOUBLE PRECISION), so one set
// of files serves both databases. Identifiers come from the application (UUIDv7),
// timestamps are written by the application in UTC. River's own tables are
// migrated beside these by cmd/slicelab (see its migrate command).
package migrations

import (
	"embed"

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
