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
	"io/fs"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"
)

// Migrations is the ordered set of schema migrations.
var Migrations = migrate.NewMigrations()

//go:embed *.sql
var sqlFiles embed.FS

func init() {
	if err := discover(Migrations, sqlFiles); err != nil {
		panic(err)
	}
}

// sqlNameRE is bun's naming of migration files: 20261125000001_comment.tx.up.sql.
var sqlNameRE = regexp.MustCompile(`^(\d{1,14})_([0-9a-z_\-]+)\.(tx\.)?(up|down)\.sql$`)

// discover adds the SQL migrations of fsys to ms. bun's own Discover (as of
// v1.2.16) returns nil when a statement of an SQL migration fails: the
// transaction is rolled back but the migration is marked applied. These
// functions run each file's statements (split at --bun:split) in one
// transaction and return the error, so a failed migration stops the start
// and is tried again next time.
func discover(ms *migrate.Migrations, fsys fs.FS) error {
	type pair struct{ comment, up, down string }
	found := map[string]*pair{}
	var names []string
	err := fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".sql") {
			return err
		}
		m := sqlNameRE.FindStringSubmatch(filepath.Base(path))
		if m == nil {
			return fmt.Errorf("migrations: %s is not named like 20261125000001_comment.tx.up.sql", path)
		}
		if m[3] == "" {
			return fmt.Errorf("migrations: %s must be transactional (.tx.up.sql)", path)
		}
		p := found[m[1]]
		if p == nil {
			p = &pair{comment: m[2]}
			found[m[1]] = p
			names = append(names, m[1])
		}
		if m[4] == "up" {
			p.up = path
		} else {
			p.down = path
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, name := range names {
		p := found[name]
		ms.Add(migrate.Migration{Name: name, Comment: p.comment, Up: sqlMigration(fsys, p.up), Down: sqlMigration(fsys, p.down)})
	}
	return nil
}

// sqlMigration runs one SQL file in a transaction, or does nothing when there is none.
func sqlMigration(fsys fs.FS, path string) func(ctx context.Context, m *migrate.Migrator, _ *migrate.Migration) error {
	return func(ctx context.Context, m *migrate.Migrator, _ *migrate.Migration) error {
		if path == "" {
			return nil
		}
		b, err := fs.ReadFile(fsys, path)
		if err != nil {
			return err
		}
		return m.DB().RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			for i, q := range strings.Split(string(b), "--bun:split") {
				if strings.TrimSpace(stripComments(q)) == "" {
					continue
				}
				if _, err := tx.ExecContext(ctx, q); err != nil {
					return fmt.Errorf("%s, statement %d: %w", path, i+1, err)
				}
			}
			return nil
		})
	}
}

// stripComments drops the -- comment lines of a statement.
func stripComments(q string) string {
	var b strings.Builder
	for _, line := range strings.Split(q, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "--") {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return b.String()
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
