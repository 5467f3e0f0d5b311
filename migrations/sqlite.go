package migrations

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/driver/sqliteshim"
)

// SQLiteDSN is the one connection string of slicelab's SQLite database, used
// by the service and by every test: foreign keys on, write-ahead logging
// (readers never wait for the writer), a 10 s busy timeout, and transactions
// that take the write lock when they begin (BEGIN IMMEDIATE), so that two
// writers queue instead of failing with SQLITE_BUSY half-way.
func SQLiteDSN(path string) string {
	return "file:" + path + "?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_txlock=immediate"
}

// OpenSQLite opens (creating it and its folder if needed) the SQLite database
// at path with SQLiteDSN, on one connection: SQLite has one writer, and one
// connection shared by bun and River avoids SQLITE_BUSY between them (River's
// SQLite driver recommends this). It does not migrate.
func OpenSQLite(ctx context.Context, path string) (*bun.DB, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create the SQLite folder: %w", err)
		}
	}
	// The database holds contacts' addresses: readable by the service's user
	// only. SQLite gives its -wal and -shm files the database file's mode.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open SQLite %s: %w", path, err)
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(p, 0o600); err != nil {
				return nil, fmt.Errorf("make %s private: %w", p, err)
			}
		}
	}
	sqldb, err := sql.Open(sqliteshim.ShimName, SQLiteDSN(path))
	if err != nil {
		return nil, fmt.Errorf("open SQLite %s: %w", path, err)
	}
	sqldb.SetMaxOpenConns(1)
	db := bun.NewDB(sqldb, sqlitedialect.New())
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open SQLite %s: %w", path, err)
	}
	return db, nil
}
