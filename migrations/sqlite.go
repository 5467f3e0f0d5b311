package migrations

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/driver/sqliteshim"
)

// SQLitePool is how one pool of connections to a SQLite file is set up. The
// zero value is the service's main pool (see SQLiteDSN and OpenSQLite).
type SQLitePool struct {
	// Conns is the most connections the pool opens (0: one).
	Conns int
	// BusyTimeout is how long a statement waits for another connection's
	// write lock before it fails with SQLITE_BUSY (0: 10 s).
	BusyTimeout time.Duration
	// Synchronous is PRAGMA synchronous ("": SQLite's default, FULL: in WAL
	// mode every commit is fsynced before it returns).
	Synchronous string
	// BackgroundCheckpoints: the pool's commits never copy the write-ahead
	// log into the database file (PRAGMA wal_autocheckpoint = 0); a
	// Checkpointer on the same file must do it. The log file is cut back to
	// WALSizeLimit when it starts over after a checkpoint (a million-row
	// import leaves one of hundreds of MB, which SQLite would otherwise keep).
	BackgroundCheckpoints bool
	// ReadOnly: the pool's connections only read (PRAGMA query_only) and
	// begin their transactions as readers (DEFERRED). In WAL mode they read
	// the last committed state without waiting for the writer, which holds
	// the write pool's connection for whole transactions. The file must
	// exist and be in WAL mode already (open the writing pool first).
	ReadOnly bool
}

// WALSizeLimit is PRAGMA journal_size_limit of BackgroundCheckpoints pools.
const WALSizeLimit = 64 << 20

// SQLiteDSN is the one connection string of slicelab's SQLite database, used
// by the service and by every test: foreign keys on, write-ahead logging
// (readers never wait for the writer), a 10 s busy timeout, and transactions
// that take the write lock when they begin (BEGIN IMMEDIATE), so that two
// writers queue instead of failing with SQLITE_BUSY half-way.
func SQLiteDSN(path string) string { return SQLitePool{}.DSN(path) }

// DSN is SQLiteDSN with the pool's busy timeout and synchronous setting.
func (p SQLitePool) DSN(path string) string {
	busy := p.BusyTimeout
	if busy <= 0 {
		busy = 10 * time.Second
	}
	if p.ReadOnly {
		return "file:" + path + "?_pragma=busy_timeout(" + strconv.FormatInt(busy.Milliseconds(), 10) + ")&_pragma=query_only(1)"
	}
	dsn := "file:" + path + "?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(" +
		strconv.FormatInt(busy.Milliseconds(), 10) + ")"
	if p.Synchronous != "" {
		dsn += "&_pragma=synchronous(" + strings.ToUpper(p.Synchronous) + ")"
	}
	if p.BackgroundCheckpoints {
		dsn += "&_pragma=wal_autocheckpoint(0)&_pragma=journal_size_limit(" + strconv.Itoa(WALSizeLimit) + ")"
	}
	return dsn + "&_txlock=immediate"
}

// OpenSQLite opens (creating it and its folder if needed) the SQLite database
// at path with SQLiteDSN, on one connection: SQLite has one writer, and one
// connection shared by bun and River avoids SQLITE_BUSY between them (River's
// SQLite driver recommends this). It does not migrate.
func OpenSQLite(ctx context.Context, path string) (*bun.DB, error) {
	return SQLitePool{}.Open(ctx, path)
}

// Open opens the SQLite file at path (creating it and its folder if needed)
// as the pool says, with bun's options opts. It does not migrate.
func (p SQLitePool) Open(ctx context.Context, path string, opts ...bun.DBOption) (*bun.DB, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create the SQLite folder: %w", err)
		}
	}
	// The database holds contacts' addresses: readable by the service's user
	// only. SQLite gives its -wal and -shm files the database file's mode.
	//
	// The file is created here only when it does not exist yet: closing a
	// descriptor of a file drops every POSIX lock this process holds on it,
	// and SQLite's connections to it (other pools of this process) rely on
	// theirs. Without them, another process that closes its last
	// connection (a CLI command) believes itself the last user, checkpoints
	// and removes the write-ahead log under this process's readers
	// (SQLITE_IOERR_SHORT_READ).
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil && !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("open SQLite %s: %w", path, err)
		}
		if err == nil {
			f.Close()
		}
	}
	for _, name := range []string{path, path + "-wal", path + "-shm"} {
		if fi, err := os.Stat(name); err == nil && fi.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(name, 0o600); err != nil {
				return nil, fmt.Errorf("make %s private: %w", name, err)
			}
		}
	}
	sqldb, err := sql.Open(sqliteshim.ShimName, p.DSN(path))
	if err != nil {
		return nil, fmt.Errorf("open SQLite %s: %w", path, err)
	}
	sqldb.SetMaxOpenConns(max(1, p.Conns))
	sqldb.SetMaxIdleConns(max(1, p.Conns))
	db := bun.NewDB(sqldb, sqlitedialect.New(), opts...)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open SQLite %s: %w", path, err)
	}
	return db, nil
}

// The click ledger has a SQLite file of its own beside the main one (on
// PostgreSQL it is a table of the one database), so that its writer, which
// every tracked click waits for, never waits for the main file's write lock:
// SQLite has one writer per file, and the main file's writers (River, the
// senders, the click projector) hold it for milliseconds at a time.
//
//   - LedgerWriter is the ledger's one writing connection: every commit is
//     fsynced (synchronous FULL) before the redirect is sent, and a commit
//     that cannot take the write lock within 250 ms fails, so the click goes
//     to the spool file instead of keeping the person waiting.
//   - LedgerReader is what the projector reads the ledger with (WAL: readers
//     never wait for the writer, nor it for them).
var (
	LedgerWriter = SQLitePool{Conns: 1, BusyTimeout: 250 * time.Millisecond, Synchronous: "FULL"}
	LedgerReader = SQLitePool{Conns: 2}
)

// LedgerPath is the click ledger's file beside the main SQLite file at
// path: slicelab.db → slicelab-clicks.db.
func LedgerPath(path string) string {
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + "-clicks" + ext
}

// A Checkpointer copies a SQLite file's write-ahead log into the file, in a
// goroutine and on a connection of its own, for pools opened with
// BackgroundCheckpoints.
//
// By default SQLite does this inside the commit that takes the log past
// 1,000 pages: that commit's caller waits for the copy and its fsync, which
// was about 8 s of a million-row import's 22 s, or a few milliseconds for
// the click (or the send) whose batch happened to cross the mark. A checkpoint here is
// SQLite's same PASSIVE one (it copies what no reader still needs and
// never blocks the writer or the readers); only the waiting moves out of
// the requests. Durability is unchanged: a commit is in the log when it
// returns, and the log is replayed after a crash.
type Checkpointer struct {
	db     *bun.DB
	cancel context.CancelFunc
	done   chan struct{}
	err    error // the last checkpoint's failure, other than SQLITE_BUSY
}

// CheckpointEvery is how often a Checkpointer checkpoints: a second of
// writes at full speed is a few MB of log.
const CheckpointEvery = 500 * time.Millisecond

// StartCheckpointer starts checkpointing the SQLite file at path every
// `every` until Stop.
func StartCheckpointer(ctx context.Context, path string, every time.Duration) (*Checkpointer, error) {
	db, err := SQLitePool{BusyTimeout: time.Second}.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c := &Checkpointer{db: db, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			err := c.Checkpoint(ctx)
			if ctx.Err() != nil {
				return
			}
			switch { // said once when checkpoints begin to fail, once when they work again
			case err != nil && c.err == nil:
				slog.Warn("SQLite checkpoints fail: the write-ahead log grows until they work again", "file", path, "err", err)
			case err == nil && c.err != nil:
				slog.Info("SQLite checkpoints work again", "file", path)
			}
			c.err = err
		}
	}()
	return c, nil
}

// Checkpoint runs one PASSIVE checkpoint now.
func (c *Checkpointer) Checkpoint(ctx context.Context) error {
	var busy, logPages, done int
	err := c.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &logPages, &done)
	if err != nil {
		return fmt.Errorf("SQLite checkpoint: %w", err)
	}
	return nil
}

// Stop ends the checkpoints (the last connection to close a SQLite file
// checkpoints it anyway) and says the last one that failed, if any.
func (c *Checkpointer) Stop() error {
	c.cancel()
	<-c.done
	return errors.Join(c.err, c.db.Close())
}
