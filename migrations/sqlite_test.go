package migrations

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A pool opened with BackgroundCheckpoints leaves the write-ahead log to a
// Checkpointer: its commits return without copying the log into the file
// (SQLite's default copies it in the commit that takes the log past 1,000
// pages), and the Checkpointer copies it.
func TestBackgroundCheckpoints(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db.sqlite")
	db, err := SQLitePool{BackgroundCheckpoints: true}.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	size := func() int64 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	var limit int
	if err := db.QueryRowContext(ctx, "PRAGMA journal_size_limit").Scan(&limit); err != nil || limit != WALSizeLimit {
		t.Fatalf("journal_size_limit %d (%v), want %d", limit, err, WALSizeLimit)
	}
	if _, err := db.ExecContext(ctx, "CREATE TABLE t (v TEXT)"); err != nil {
		t.Fatal(err)
	}
	// About 2,000 pages of 4 KiB, in 20 commits.
	row := strings.Repeat("x", 4000)
	for range 20 {
		if _, err := db.ExecContext(ctx, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100) "+
			"INSERT INTO t SELECT ? FROM n", row); err != nil {
			t.Fatal(err)
		}
	}
	if s := size(); s > 1<<20 {
		t.Fatalf("the database file is %d bytes after the commits: a commit checkpointed", s)
	}

	c, err := StartCheckpointer(ctx, path, 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for size() < 2000*4000 {
		if time.Now().After(deadline) {
			t.Fatalf("the database file is %d bytes 30 s after the checkpointer started", size())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil || n != 2000 {
		t.Fatalf("rows after the checkpoints: %d, %v", n, err)
	}
}
