package migrations

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"
)

// Ledger is the schema of the click ledger: the append-only table that every
// tracked click is committed to before its redirect is sent. It is a
// migration group of its own because it lives where the ledger lives: in
// the one PostgreSQL database (beside the other tables), or in the SQLite
// file of its own (LedgerPath). Its applied migrations are kept in
// bun_ledger_migrations.
var Ledger = migrate.NewMigrations()

// LedgerUp applies every pending ledger migration to db.
func LedgerUp(ctx context.Context, db *bun.DB) (*migrate.MigrationGroup, error) {
	m := NewLedgerMigrator(db)
	if err := m.Init(ctx); err != nil {
		return nil, fmt.Errorf("ledger migrations: init: %w", err)
	}
	g, err := m.Migrate(ctx)
	if err != nil {
		return nil, fmt.Errorf("ledger migrations: %w", err)
	}
	return g, nil
}

// NewLedgerMigrator returns bun's migrator over the ledger's migrations.
func NewLedgerMigrator(db *bun.DB) *migrate.Migrator {
	return migrate.NewMigrator(db, Ledger, migrate.WithMarkAppliedOnSuccess(true),
		migrate.WithTableName("bun_ledger_migrations"), migrate.WithLocksTableName("bun_ledger_migration_locks"))
}
