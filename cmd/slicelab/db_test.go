package main

import (
	"context"
	"fmt"
	"testing"
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
