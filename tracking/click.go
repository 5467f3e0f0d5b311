package tracking

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// Click is one hit on a tracked link.
type Click struct {
	bun.BaseModel `bun:"table:clicks"`

	ID           uuid.UUID `bun:"id,pk,type:uuid"`
	DeliveryID   uuid.UUID `bun:"delivery_id,type:uuid"`
	ExperimentID uuid.UUID `bun:"experiment_id,type:uuid"`
	VariantID    uuid.UUID `bun:"variant_id,type:uuid"`
	ContactID    uuid.UUID `bun:"contact_id,type:uuid"` // filled by the recorder from the delivery
	LinkIdx      int       `bun:"link_idx"`
	ClickedAt    time.Time `bun:"clicked_at"`
	Method       string    `bun:"method"`
	UserAgent    string    `bun:"user_agent"`
	IP           string    `bun:"ip"` // anonymised, see AnonymizeIP
	Automated    bool      `bun:"automated"`
	Reason       string    `bun:"reason"`

	// LinkCount is the number of links in the email (not stored); the burst rule needs it.
	LinkCount int `bun:"-"`
}

// ErrRecorderClosed is returned by Record once the Recorder has stopped.
var ErrRecorderClosed = errors.New("tracking: click recorder is closed")

// Recorder writes clicks with group commit: while one INSERT is in flight the
// next callers queue, and the queue is written in the next single statement.
// Record returns only after the click's statement has committed.
type Recorder struct {
	db       bun.IDB
	rules    Rules
	zones    zones
	maxBatch int
	in       chan recordReq
	stop     chan struct{}
	exited   chan struct{}
	once     sync.Once
}

type recordReq struct {
	click Click
	done  chan error
}

// NewRecorder starts the writer goroutine; Close stops it after the clicks
// already handed to it are written.
// The rules classify each batch against the clicks already stored.
func NewRecorder(db bun.IDB, maxBatch int, rules Rules) *Recorder {
	if maxBatch <= 0 {
		maxBatch = 256
	}
	r := &Recorder{db: db, rules: rules, zones: zones{}, maxBatch: maxBatch, in: make(chan recordReq), stop: make(chan struct{}), exited: make(chan struct{})}
	go r.loop()
	return r
}

// Record queues c and waits until it is durably written.
func (r *Recorder) Record(ctx context.Context, c Click) error {
	req := recordReq{click: c, done: make(chan error, 1)}
	select {
	case r.in <- req:
	case <-r.exited:
		return ErrRecorderClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once handed over, the click is written whatever the caller's context does.
	return <-req.done
}

// Close stops accepting clicks, writes the ones already handed over and waits
// for the writer to exit. Stop the HTTP server first so no request is cut off.
func (r *Recorder) Close() {
	r.once.Do(func() { close(r.stop) })
	<-r.exited
}

func (r *Recorder) loop() {
	defer close(r.exited)
	batch := make([]recordReq, 0, r.maxBatch)
	clicks := make([]Click, 0, r.maxBatch)
	for {
		var first recordReq
		select {
		case first = <-r.in:
		case <-r.stop:
			return
		}
		batch = append(batch[:0], first)
	fill:
		for len(batch) < r.maxBatch {
			select {
			case req := <-r.in:
				batch = append(batch, req)
			default:
				break fill
			}
		}
		clicks = clicks[:0]
		for _, req := range batch {
			clicks = append(clicks, req.click)
		}
		// A background context: a click that was handed over must be written
		// even while the service is shutting down.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := r.write(ctx, clicks)
		cancel()
		for _, req := range batch {
			req.done <- err
		}
	}
}

// write classifies and stores one batch in one transaction; earlier clicks
// that the batch reveals as automated are marked too.
func (r *Recorder) write(ctx context.Context, clicks []Click) error {
	return r.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		retro, err := classifyBatch(ctx, tx, clicks, r.rules)
		if err != nil {
			return err
		}
		if _, err := tx.NewInsert().Model(&clicks).Exec(ctx); err != nil {
			return err
		}
		var marked []uuid.UUID
		for _, rr := range retro {
			q := tx.NewUpdate().Table("clicks").Set("automated = ?", true).Set("reason = ?", rr.reason).
				Where("delivery_id = ?", rr.delivery).Where("clicked_at >= ?", rr.from).Where("clicked_at <= ?", rr.to).
				Where("NOT automated")
			if rr.skipHoneypot {
				q = q.Where("link_idx <> ?", HoneypotLink)
			}
			var ids []uuid.UUID
			if err := q.Returning("id").Scan(ctx, &ids); err != nil {
				return err
			}
			marked = append(marked, ids...)
		}
		return r.rollUp(ctx, tx, clicks, marked)
	})
}

// AnonymizeIP keeps the /24 of an IPv4 address and the /48 of an IPv6 one, so
// that no raw address is ever stored.
func AnonymizeIP(addr string) string {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return ""
	}
	ip = ip.Unmap()
	bits := 48
	if ip.Is4() {
		bits = 24
	}
	p, err := ip.Prefix(bits)
	if err != nil {
		return ""
	}
	return p.String()
}
