package main

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
)

// The main PostgreSQL pool keeps 64 prepared statements a connection
// (pgx's default 512 kept ~35 MB of bun's one-off SQL while sending at a
// million), unless the URL says otherwise.
func TestPostgresStatementCache(t *testing.T) {
	db := testPostgresURL(t)
	for _, c := range []struct {
		dsn  string
		want int
	}{{db, 64}, {mustParam(t, db, "statement_cache_capacity", "100"), 100}} {
		st, err := openStore(context.Background(), dbTarget{postgres: true, dsn: c.dsn})
		if err != nil {
			t.Fatal(err)
		}
		conn, err := st.db.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		// 150 different queries (pgx prepares each one it runs with Query),
		// then the statements the server holds for this connection.
		for i := range 150 {
			var n int
			if err := conn.QueryRowContext(context.Background(), fmt.Sprintf("SELECT %d", i)).Scan(&n); err != nil {
				t.Fatal(err)
			}
		}
		var got int
		if err := conn.QueryRowContext(context.Background(), "SELECT count(*) FROM pg_prepared_statements").Scan(&got); err != nil {
			t.Fatal(err)
		}
		conn.Close()
		st.Close()
		if got > c.want+1 || got < c.want-1 { // give or take the count's own statement
			t.Errorf("%s: %d prepared statements kept, want %d", c.dsn, got, c.want)
		}
	}
}

func mustParam(t *testing.T, dsn, key, value string) string {
	t.Helper()
	s, err := withParam(dsn, key, value)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// On SQLite the main file has one writing connection; SELECTs outside
// transactions go to a pool of reading connections, so they neither wait
// for a transaction that holds the writer nor can write.
func TestSQLiteReadsDoNotWaitForTheWriter(t *testing.T) {
	ctx := context.Background()
	st, err := openStore(ctx, dbTarget{dsn: filepath.Join(t.TempDir(), "slicelab.db"), clickFsync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.migrateUp(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if err := st.openReads(ctx); err != nil {
		t.Fatal(err)
	}
	org := uuid.New()
	if _, err := st.db.NewRaw("INSERT INTO organisations (id, slug, name, created_at) VALUES (?, 'acme', 'Acme', ?)", org, time.Now()).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	// A transaction holds the one writing connection meanwhile.
	tx, err := st.db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.NewRaw("UPDATE organisations SET name = 'Acme (renamed)' WHERE id = ?", org).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var name string
	if err := st.db.NewSelect().Table("organisations").Column("name").Where("id = ?", org).Scan(rctx, &name); err != nil {
		t.Fatalf("a read while a transaction holds the writer: %v", err)
	}
	if name != "Acme" {
		t.Fatalf("read %q: the reading pool sees only committed data, want %q", name, "Acme")
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	// A read after a commit sees it.
	if err := st.db.NewSelect().Table("organisations").Column("name").Where("id = ?", org).Scan(ctx, &name); err != nil || name != "Acme (renamed)" {
		t.Fatalf("read after the commit: %q, %v", name, err)
	}
	// The reading pool cannot write.
	if _, err := st.read.ExecContext(ctx, "DELETE FROM organisations"); err == nil {
		t.Fatal("the reading pool wrote")
	}
}
