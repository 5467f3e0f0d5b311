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

	"github.com/uptrace/bun"
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

// Every pool is set up the same whichever driver driver/sqliteshim picked
// (modernc.org/sqlite, or github.com/mattn/go-sqlite3 with -tags cgosqlite,
// which CI runs too): each connection runs the pool's PRAGMAs. mattn's
// driver sets synchronous = NORMAL on every connection it opens, so a pool
// that leaves Synchronous empty must still come out FULL.
func TestPoolsSetEveryConnection(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db.sqlite")
	cases := []struct {
		name string
		pool SQLitePool
		want map[string]int64
	}{
		{"main", SQLitePool{BackgroundCheckpoints: true},
			map[string]int64{"foreign_keys": 1, "busy_timeout": 10000, "synchronous": 2, "wal_autocheckpoint": 0, "journal_size_limit": WALSizeLimit, "query_only": 0}},
		{"ledger writer", SQLitePool{Conns: 1, BusyTimeout: 250 * time.Millisecond, Synchronous: "NORMAL", BackgroundCheckpoints: true},
			map[string]int64{"foreign_keys": 1, "busy_timeout": 250, "synchronous": 1, "wal_autocheckpoint": 0, "query_only": 0}},
		{"plain", SQLitePool{Conns: 2},
			map[string]int64{"foreign_keys": 1, "busy_timeout": 10000, "synchronous": 2, "wal_autocheckpoint": 1000, "journal_size_limit": -1}},
		{"read-only", SQLitePool{Conns: 3, ReadOnly: true},
			map[string]int64{"busy_timeout": 10000, "query_only": 1}},
	}
	for _, c := range cases {
		db, err := c.pool.Open(ctx, path)
		if err != nil {
			t.Fatalf("%s (%s): %v", c.name, SQLiteDriver(), err)
		}
		// Every connection of the pool, not only the first: hold them all.
		conns := max(1, c.pool.Conns)
		var held []bun.Conn
		for i := range conns {
			conn, err := db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			held = append(held, conn)
			for name, want := range c.want {
				var got int64
				if err := conn.QueryRowContext(ctx, "PRAGMA "+name).Scan(&got); err != nil || got != want {
					t.Errorf("%s pool, connection %d (%s): PRAGMA %s = %d (%v), want %d", c.name, i+1, SQLiteDriver(), name, got, err, want)
				}
			}
			var mode string
			if err := conn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
				t.Errorf("%s pool, connection %d (%s): journal_mode %q (%v), want wal", c.name, i+1, SQLiteDriver(), mode, err)
			}
		}
		for _, conn := range held {
			conn.Close()
		}
		// Writers take the write lock when they begin (BEGIN IMMEDIATE):
		// a second writer's BEGIN waits instead of failing half-way.
		if !c.pool.ReadOnly && conns == 1 {
			other, err := SQLitePool{BusyTimeout: 50 * time.Millisecond}.Open(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := other.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS w (v INTEGER)"); err == nil {
				t.Errorf("%s pool (%s): another writer wrote while a transaction had only begun: not BEGIN IMMEDIATE", c.name, SQLiteDriver())
			}
			tx.Rollback()
			other.Close()
		}
		db.Close()
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
