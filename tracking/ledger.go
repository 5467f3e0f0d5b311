package tracking

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/schema"
)

// RawClick is one row of the click ledger: what the redirect knew of a click
// when it answered. The ledger is append-only; classification and rollups
// come later, from the Projector.
type RawClick struct {
	bun.BaseModel `bun:"table:click_ledger"`

	// Seq orders the ledger; Xid is the writing transaction on PostgreSQL
	// (0 on SQLite). Both are set by the database.
	Seq int64 `bun:"seq,scanonly"`
	Xid int64 `bun:"xid,scanonly"`

	ID           uuid.UUID `bun:"id,type:uuid"`
	DeliveryID   uuid.UUID `bun:"delivery_id,type:uuid"`
	VariantID    uuid.UUID `bun:"variant_id,type:uuid"`
	ExperimentID uuid.UUID `bun:"experiment_id,type:uuid"` // uuid.Nil when the variant has no links (a honeypot hit)
	LinkIdx      int       `bun:"link_idx"`
	LinkCount    int       `bun:"link_count"` // links in the email; the burst rule needs it
	ClickedAt    time.Time `bun:"clicked_at"`
	Method       string    `bun:"method"`
	UserAgent    string    `bun:"user_agent"`
	IP           string    `bun:"ip"`      // anonymised, see AnonymizeIP
	Spooled      bool      `bun:"spooled"` // came in through the spool file
}

// LedgerPos is a place in the ledger's order: after (Xid, Seq).
type LedgerPos struct {
	Xid int64 `json:"xid"`
	Seq int64 `json:"seq"`
}

func (p LedgerPos) after(q LedgerPos) bool {
	return p.Xid > q.Xid || (p.Xid == q.Xid && p.Seq > q.Seq)
}

// Ledger is the click ledger's SQL. On PostgreSQL it is a table of the one
// database; on SQLite it lives in a file of its own (migrations.LedgerPath),
// so db may be another database than the Store's.
type Ledger struct {
	db bun.IDB
	pg bool
	// writers: on PostgreSQL, the application_name of every session that
	// writes the ledger ("": unknown; see WrittenBy).
	writers string
}

// NewLedger returns the ledger over db.
func NewLedger(db bun.IDB) *Ledger {
	return &Ledger{db: db, pg: db.Dialect().Name() == dialect.PG}
}

// LedgerWriterName is the PostgreSQL application_name that the service
// gives the sessions that write the click ledger (see WrittenBy).
const LedgerWriterName = "slicelab-ledger"

// WrittenBy tells a PostgreSQL ledger that every session writing it has
// application name name (all of them, in every instance: one writer under
// another name could have its clicks skipped). Sessions of that name on
// other databases of the server are not waited for. Read then waits only for
// those sessions' transactions instead of for the oldest transaction on
// the whole server, so that a long transaction elsewhere (a million-row
// import, another database's work on the same server) does not hold the
// click counts back. The sessions must use the same role as the reader
// (PostgreSQL shows other roles' transaction ids only to privileged roles).
func (l *Ledger) WrittenBy(name string) *Ledger {
	c := *l
	c.writers = name
	return &c
}

// Append writes clicks in one INSERT: no reads, one round trip (and one
// commit) for the whole batch.
//
// On PostgreSQL the batch goes as one array per column into one statement
// whatever its size (unnest), which the driver prepares once per connection:
// the server does not parse and plan an INSERT per batch.
func (l *Ledger) Append(ctx context.Context, clicks []RawClick) error {
	if len(clicks) == 0 {
		return nil
	}
	var err error
	if l.pg {
		err = l.appendPG(ctx, clicks)
	} else {
		_, err = driverExec(l.db).ExecContext(ctx, string(appendSQLite(clicks)))
	}
	if err != nil {
		return fmt.Errorf("tracking: append to the click ledger: %w", err)
	}
	return nil
}

const appendPG = `INSERT INTO click_ledger (id, delivery_id, variant_id, experiment_id, link_idx, link_count, clicked_at, method, user_agent, ip, spooled)
	SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::int[], $6::int[], $7::timestamptz[], $8::text[], $9::text[], $10::text[], $11::bool[])`

func (l *Ledger) appendPG(ctx context.Context, clicks []RawClick) error {
	n := len(clicks)
	ids, deliveries, variants, experiments := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	links, counts := make([]int32, n), make([]int32, n)
	at := make([]time.Time, n)
	methods, agents, ips := make([]string, n), make([]string, n), make([]string, n)
	spooled := make([]bool, n)
	for i, c := range clicks {
		ids[i], deliveries[i], variants[i], experiments[i] = c.ID.String(), c.DeliveryID.String(), c.VariantID.String(), c.ExperimentID.String()
		links[i], counts[i], at[i] = int32(c.LinkIdx), int32(c.LinkCount), c.ClickedAt
		methods[i], agents[i], ips[i], spooled[i] = c.Method, c.UserAgent, c.IP, c.Spooled
	}
	_, err := driverExec(l.db).ExecContext(ctx, appendPG, ids, deliveries, variants, experiments, links, counts, at, methods, agents, ips, spooled)
	return err
}

// appendSQLite is the INSERT of a batch into SQLite, its values written
// into the statement: SQLite's driver parses every statement it runs, so
// placeholders would cost a parse all the same and a bind per value on top
// (measured: slower), and writing the literals here rather than through
// bun's reflection halves what building the statement costs.
func appendSQLite(clicks []RawClick) []byte {
	const head = "INSERT INTO click_ledger (id, delivery_id, variant_id, experiment_id, link_idx, link_count, clicked_at, method, user_agent, ip, spooled) VALUES "
	b := make([]byte, 0, len(head)+len(clicks)*(4*39+len(uaSample)+80))
	b = append(b, head...)
	for i, c := range clicks {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '(')
		for _, id := range [...]uuid.UUID{c.ID, c.DeliveryID, c.VariantID, c.ExperimentID} {
			b = appendSQLiteUUID(b, id)
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(c.LinkIdx), 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(c.LinkCount), 10)
		b = append(b, ',')
		b = sqliteLiterals.AppendTime(b, c.ClickedAt)
		b = append(b, ',')
		b = sqliteLiterals.AppendString(b, c.Method)
		b = append(b, ',')
		b = sqliteLiterals.AppendString(b, c.UserAgent)
		b = append(b, ',')
		b = sqliteLiterals.AppendString(b, c.IP)
		b = append(b, ',')
		b = sqliteLiterals.AppendBool(b, c.Spooled)
		b = append(b, ')')
	}
	return b
}

// uaSample sizes the statement's buffer: a typical browser's user agent.
const uaSample = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

// appendSQLiteUUID writes id as bun does (its text, quoted).

func appendSQLiteUUID(b []byte, id uuid.UUID) []byte {
	var buf [38]byte
	buf[0], buf[37] = '\'', '\''
	hex.Encode(buf[1:9], id[0:4])
	buf[9] = '-'
	hex.Encode(buf[10:14], id[4:6])
	buf[14] = '-'
	hex.Encode(buf[15:19], id[6:8])
	buf[19] = '-'
	hex.Encode(buf[20:24], id[8:10])
	buf[24] = '-'
	hex.Encode(buf[25:37], id[10:])
	return append(b, buf[:]...)
}

// sqliteLiterals writes strings, times and booleans exactly as bun does.
var sqliteLiterals schema.BaseDialect

// driverExec is the database/sql handle under a bun handle: its arguments go
// to the driver as they are (bun would write them into the SQL text).
func driverExec(db bun.IDB) interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
} {
	switch d := db.(type) {
	case *bun.DB:
		return d.DB
	case bun.Tx:
		return d.Tx
	case *bun.Tx:
		return d.Tx
	case bun.Conn:
		return d.Conn
	}
	panic(fmt.Sprintf("tracking: no database/sql handle under %T", db))
}

const ledgerColumns = "seq, id, delivery_id, variant_id, experiment_id, link_idx, link_count, clicked_at, method, user_agent, ip, spooled"

// Read returns up to limit clicks after pos, in ledger order, and whether it
// returned every click recorded so far (caughtUp).
//
// On PostgreSQL it returns only clicks of transactions older than the
// oldest one still running that could write the ledger (of its writers'
// sessions, see WrittenBy; else of the whole server, pg_snapshot_xmin of the
// reading snapshot): all of those have ended, so no click can be committed
// before them any more and reading on from the last one returned misses
// nothing. Clicks held back that way make caughtUp false.
func (l *Ledger) Read(ctx context.Context, pos LedgerPos, limit int) (rows []RawClick, caughtUp bool, err error) {
	if !l.pg {
		err = l.db.NewRaw("SELECT "+ledgerColumns+" FROM click_ledger WHERE seq > ? ORDER BY seq LIMIT ?", pos.Seq, limit).
			Scan(ctx, &rows)
		if err != nil {
			return nil, false, fmt.Errorf("tracking: read the click ledger: %w", err)
		}
		return rows, len(rows) < limit, nil
	}
	horizon := "pg_snapshot_xmin(pg_current_snapshot())"
	if l.writers != "" {
		h, err := l.writersHorizon(ctx)
		if err != nil {
			return nil, false, fmt.Errorf("tracking: read the click ledger: %w", err)
		}
		horizon = strconv.FormatInt(h, 10) + "::text::xid8"
	}
	// One snapshot for both queries, so that "nothing beyond" is about the
	// same moment as the rows.
	err = l.db.RunInTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}, func(ctx context.Context, tx bun.Tx) error {
		if err := tx.NewRaw("SELECT "+ledgerColumns+", xid::text::bigint AS xid FROM click_ledger "+
			"WHERE (xid, seq) > (?::text::xid8, ?) AND xid < "+horizon+" "+
			"ORDER BY xid, seq LIMIT ?", pos.Xid, pos.Seq, limit).Scan(ctx, &rows); err != nil {
			return err
		}
		if len(rows) == limit {
			return nil
		}
		last := pos
		if len(rows) > 0 {
			last = LedgerPos{Xid: rows[len(rows)-1].Xid, Seq: rows[len(rows)-1].Seq}
		}
		var beyond bool
		if err := tx.NewRaw("SELECT EXISTS (SELECT 1 FROM click_ledger WHERE (xid, seq) > (?::text::xid8, ?))", last.Xid, last.Seq).
			Scan(ctx, &beyond); err != nil {
			return err
		}
		caughtUp = !beyond
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("tracking: read the click ledger: %w", err)
	}
	return rows, caughtUp, nil
}

// writersHorizon is the transaction id below which no ledger row can be
// committed any more: the lowest of the ids that the ledger's writers are
// running under, and of the next id to be given out. It is taken before the
// snapshot that reads the rows: a writer's transaction below it had ended
// when the writers were looked at, so that snapshot sees its rows (if it
// committed); one that got its id later has a higher one.
func (l *Ledger) writersHorizon(ctx context.Context) (int64, error) {
	var h struct {
		Next    int64   `bun:"next"`
		Running []int64 `bun:"running,array"`
	}
	// The statement's snapshot (and so the next id) comes first, then the
	// sessions are read.
	if err := l.db.NewRaw(`SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS next,
		COALESCE((SELECT array_agg(backend_xid::text::bigint) FROM pg_stat_activity
			WHERE application_name = ? AND datname = current_database() AND backend_xid IS NOT NULL), '{}') AS running`,
		l.writers).Scan(ctx, &h); err != nil {
		return 0, err
	}
	return writersHorizon(h.Next, h.Running), nil
}

// writersHorizon widens the running 32-bit transaction ids to full ones
// (each within 2^31 before next) and returns the lowest, or next.
func writersHorizon(next int64, running []int64) int64 {
	h := next
	for _, x := range running {
		d := uint32(next) - uint32(x) // how far before next (modulo 2^32)
		if d == 0 || d > 1<<31 {      // given out after next was read: above it anyway
			continue
		}
		h = min(h, next-int64(d))
	}
	return h
}

// Count counts the ledger's rows and distinct click ids (a click the spool
// replayed after its first write did commit is there twice; the projector
// counts it once).
func (l *Ledger) Count(ctx context.Context) (rows, distinct int, err error) {
	var c struct {
		Rows     int `bun:"rows"`
		Distinct int `bun:"ids"`
	}
	if err := l.db.NewRaw("SELECT count(*) AS rows, count(DISTINCT id) AS ids FROM click_ledger").Scan(ctx, &c); err != nil {
		return 0, 0, fmt.Errorf("tracking: count the click ledger: %w", err)
	}
	return c.Rows, c.Distinct, nil
}

// All returns the whole ledger in order (for checks and tests: it holds
// every row in memory).
func (l *Ledger) All(ctx context.Context) ([]RawClick, error) {
	var out []RawClick
	pos := LedgerPos{}
	for {
		var rows []RawClick
		var err error
		if l.pg {
			err = l.db.NewRaw("SELECT "+ledgerColumns+", xid::text::bigint AS xid FROM click_ledger WHERE (xid, seq) > (?::text::xid8, ?) ORDER BY xid, seq LIMIT 10000",
				pos.Xid, pos.Seq).Scan(ctx, &rows)
		} else {
			err = l.db.NewRaw("SELECT "+ledgerColumns+" FROM click_ledger WHERE seq > ? ORDER BY seq LIMIT 10000", pos.Seq).Scan(ctx, &rows)
		}
		if err != nil {
			return nil, fmt.Errorf("tracking: read the click ledger: %w", err)
		}
		if len(rows) == 0 {
			return out, nil
		}
		out = append(out, rows...)
		pos = LedgerPos{Xid: rows[len(rows)-1].Xid, Seq: rows[len(rows)-1].Seq}
	}
}
