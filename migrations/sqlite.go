package migrations

import (
	"context"
	"database/sql"
	"database/sql/driver"
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
// zero value is the service's main pool (see OpenSQLite).
type SQLitePool struct {
	// Conns is the most connections the pool opens (0: one).
	Conns int
	// BusyTimeout is how long a statement waits for another connection's
	// write lock before it fails with SQLITE_BUSY (0: 10 s).
	BusyTimeout time.Duration
	// Synchronous is PRAGMA synchronous ("": FULL, SQLite's default: in WAL
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

// DSN is the pool's connection string: the file and how its transactions
// begin, which both SQLite drivers that driver/sqliteshim may pick read from
// the string alike (modernc.org/sqlite by default, github.com/mattn/go-sqlite3
// when built with -tags cgosqlite). Everything else is in Pragmas.
func (p SQLitePool) DSN(path string) string {
	if p.ReadOnly {
		return "file:" + path
	}
	return "file:" + path + "?_txlock=immediate"
}

// Pragmas are the PRAGMAs each new connection of the pool runs, in order:
// the busy timeout first, so that the others wait for a lock rather than
// fail.
func (p SQLitePool) Pragmas() []string {
	busy := p.BusyTimeout
	if busy <= 0 {
		busy = 10 * time.Second
	}
	out := []string{"busy_timeout = " + strconv.FormatInt(busy.Milliseconds(), 10)}
	if p.ReadOnly {
		return append(out, "query_only = 1")
	}
	// synchronous is always set: SQLite's default is FULL, but
	// github.com/mattn/go-sqlite3 sets NORMAL on every connection it opens.
	sync := "FULL"
	if p.Synchronous != "" {
		sync = strings.ToUpper(p.Synchronous)
	}
	out = append(out, "foreign_keys = 1", "journal_mode = WAL", "synchronous = "+sync)
	if p.BackgroundCheckpoints {
		out = append(out, "wal_autocheckpoint = 0", "journal_size_limit = "+strconv.Itoa(WALSizeLimit))
	}
	return out
}

// SQLiteDriver names the SQLite driver this build uses: driver/sqliteshim
// picks modernc.org/sqlite (pure Go, the default) or, in a build with
// -tags cgosqlite and cgo, github.com/mattn/go-sqlite3 (SQLite's C code,
// faster: see bench/README.md).
func SQLiteDriver() string {
	switch sqliteshim.DriverName() {
	case "sqlite":
		return "modernc.org/sqlite"
	case "sqlite3":
		return "github.com/mattn/go-sqlite3 (cgo)"
	}
	return "none"
}

// errNoSQLiteDriver: a build with -tags cgosqlite but without cgo.
var errNoSQLiteDriver = errors.New("this slicelab has no SQLite driver: it was built with -tags cgosqlite but without cgo " +
	"(CGO_ENABLED=0, or no C compiler found); build it with a C compiler (CGO_ENABLED=1), or without the tag")

// sqliteConnector opens connections with driver/sqliteshim's driver and
// runs the pool's PRAGMAs on each before database/sql uses it. The two
// drivers spell PRAGMAs in a connection string differently (or not at
// all); run on the connection, they are the same for both.
type sqliteConnector struct {
	dsn     string
	pragmas []string
}

func (c sqliteConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := sqliteshim.Driver().Open(c.dsn)
	if err != nil {
		return nil, err
	}
	ex, ok := conn.(driver.ExecerContext)
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("SQLite driver %s cannot run statements on a connection", sqliteshim.DriverName())
	}
	for _, p := range c.pragmas {
		if _, err := ex.ExecContext(ctx, "PRAGMA "+p, nil); err != nil {
			conn.Close()
			return nil, fmt.Errorf("PRAGMA %s: %w", p, err)
		}
	}
	return conn, nil
}

func (c sqliteConnector) Driver() driver.Driver { return sqliteshim.Driver() }

// OpenSQLite opens (creating it and its folder if needed) the SQLite database
// at path as the main pool (transactions BEGIN IMMEDIATE, so that two
// writers queue instead of failing with SQLITE_BUSY half-way; foreign keys
// on; write-ahead logging, so that readers never wait for the writer; a 10 s
// busy timeout), on one connection: SQLite has one writer, and one
// connection shared by bun and River avoids SQLITE_BUSY between them (River's
// SQLite driver recommends this). It does not migrate.
func OpenSQLite(ctx context.Context, path string) (*bun.DB, error) {
	return SQLitePool{}.Open(ctx, path)
}

// Open opens the SQLite file at path (creating it and its folder if needed)
// as the pool says, with bun's options opts. It does not migrate.
func (p SQLitePool) Open(ctx context.Context, path string, opts ...bun.DBOption) (*bun.DB, error) {
	if !sqliteshim.HasDriver() { // before any file is created
		return nil, errNoSQLiteDriver
	}
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
	sqldb := sql.OpenDB(sqliteConnector{dsn: p.DSN(path), pragmas: p.Pragmas()})
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
