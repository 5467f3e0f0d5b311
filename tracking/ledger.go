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
}

// NewLedger returns the ledger over db.
func NewLedger(db bun.IDB) *Ledger {
	return &Ledger{db: db, pg: db.Dialect().Name() == dialect.PG}
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
// oldest one still running (pg_snapshot_xmin of the reading snapshot): all
// of those have ended, so no click can be committed before them any more
// and reading on from the last one returned misses nothing. Clicks held back
// that way make caughtUp false.
func (l *Ledger) Read(ctx context.Context, pos LedgerPos, limit int) (rows []RawClick, caughtUp bool, err error) {
	if !l.pg {
		err = l.db.NewRaw("SELECT "+ledgerColumns+" FROM click_ledger WHERE seq > ? ORDER BY seq LIMIT ?", pos.Seq, limit).
			Scan(ctx, &rows)
		if err != nil {
			return nil, false, fmt.Errorf("tracking: read the click ledger: %w", err)
		}
		return rows, len(rows) < limit, nil
	}
	// One snapshot for both queries, so that "nothing beyond" is about the
	// same moment as the rows.
	err = l.db.RunInTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}, func(ctx context.Context, tx bun.Tx) error {
		if err := tx.NewRaw("SELECT "+ledgerColumns+", xid::text::bigint AS xid FROM click_ledger "+
			"WHERE (xid, seq) > (?::text::xid8, ?) AND xid < pg_snapshot_xmin(pg_current_snapshot()) "+
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
