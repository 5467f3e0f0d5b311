package migrations

import (
	"context"
	"fmt"
	"os"
	"os/exec"
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

// sqliteChildEnv makes the test binary, run again as a child process, count
// the rows of table a in the SQLite file it names and exit (see
// TestOpenKeepsOtherPoolsLocks).
const sqliteChildEnv = "SLICELAB_TEST_SQLITE_CHILD"

func TestMain(m *testing.M) {
	if path := os.Getenv(sqliteChildEnv); path != "" {
		db, err := SQLitePool{}.Open(context.Background(), path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		var n int
		if err := db.QueryRow("SELECT count(*) FROM a").Scan(&n); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		db.Close() // the last connection of this process: SQLite checks whether it is the file's last one
		fmt.Println(n)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// Opening another pool on a file that this process has open keeps the
// locks that SQLite's connections hold on it. Open used to create the file
// with os.OpenFile and close it again, which drops every POSIX lock the
// process holds on the file: another process (a CLI command) closing its
// connection then believed itself the last user, checkpointed and removed
// the write-ahead log, and the next commits of this process went into the
// removed log, lost to every other connection (and to the next start).
func TestOpenKeepsOtherPoolsLocks(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db.sqlite")
	w, err := SQLitePool{BackgroundCheckpoints: true}.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.ExecContext(ctx, "CREATE TABLE a (x INTEGER)"); err != nil {
		t.Fatal(err)
	}
	insert := func() {
		t.Helper()
		if _, err := w.ExecContext(ctx, "INSERT INTO a VALUES (1)"); err != nil {
			t.Fatal(err)
		}
	}
	insert()
	// A second pool on the same file, as the service opens its checkpointer
	// and its reading pool beside the writer.
	r, err := SQLitePool{Conns: 2, ReadOnly: true}.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	child := func() string {
		t.Helper()
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), sqliteChildEnv+"="+path)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("child process: %v: %s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if got := child(); got != "1" {
		t.Fatalf("another process counted %s rows, want 1", got)
	}
	if _, err := os.Stat(path + "-wal"); err != nil {
		t.Fatalf("the write-ahead log is gone while this process has the file open: %v", err)
	}
	insert()
	if got := child(); got != "2" {
		t.Fatalf("after a commit here, another process counted %s rows, want 2", got)
	}
	var n int
	if err := r.QueryRowContext(ctx, "SELECT count(*) FROM a").Scan(&n); err != nil || n != 2 {
		t.Fatalf("the reading pool counted %d rows (%v), want 2", n, err)
	}
}
