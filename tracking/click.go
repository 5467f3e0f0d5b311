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

// DeliveryFacts is what the rules and rollups need to know about the
// delivery a click belongs to.
type DeliveryFacts struct {
	ExperimentID uuid.UUID
	ContactID    uuid.UUID
	SentAt       *time.Time     // nil until sent
	Location     *time.Location // the team's time zone, in which weeks are counted
}

// Deliveries looks up deliveries for the click recorder. The experiments
// package, which owns deliveries, implements it; db is the recorder's
// transaction, so the lookup sees the same snapshot (and, on SQLite, shares
// its one connection). Unknown ids are left out of the answer.
type Deliveries interface {
	DeliveryFacts(ctx context.Context, db bun.IDB, ids []uuid.UUID) (map[uuid.UUID]DeliveryFacts, error)
}

// ErrRecorderClosed is returned by Record once the Recorder has stopped.
var ErrRecorderClosed = errors.New("tracking: click recorder is closed")

// Recorder writes clicks with group commit: while one INSERT is in flight the
// next callers queue, and the queue is written in the next single statement.
// Record returns only after the click's statement has committed.
type Recorder struct {
	db         bun.IDB
	deliveries Deliveries
	rules      Rules
	maxBatch   int
	in         chan recordReq
	stop       chan struct{}
	exited     chan struct{}
	once       sync.Once
}

type recordReq struct {
	click Click
	done  chan error
}

// NewRecorder starts the writer goroutine; Close stops it after the clicks
// already handed to it are written. The rules classify each batch against
// the clicks already stored and the deliveries' facts.
func NewRecorder(db bun.IDB, deliveries Deliveries, maxBatch int, rules Rules) *Recorder {
	if maxBatch <= 0 {
		maxBatch = 256
	}
	r := &Recorder{db: db, deliveries: deliveries, rules: rules, maxBatch: maxBatch, in: make(chan recordReq),
		stop: make(chan struct{}), exited: make(chan struct{})}
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
		st := NewStore(tx)
		facts, err := r.facts(ctx, tx, clicks)
		if err != nil {
			return err
		}
		retro, err := classifyBatch(ctx, st, clicks, facts, r.rules)
		if err != nil {
			return err
		}
		if err := st.insertClicks(ctx, clicks); err != nil {
			return err
		}
		var marked []Click
		for _, rr := range retro {
			gone, err := st.markAutomated(ctx, rr)
			if err != nil {
				return err
			}
			marked = append(marked, gone...)
		}
		return rollUp(ctx, st, clicks, marked, facts)
	})
}

// facts looks up the deliveries of a batch and fills each click's contact
// (and experiment, for a honeypot of an email without tracked links).
func (r *Recorder) facts(ctx context.Context, tx bun.IDB, clicks []Click) (map[uuid.UUID]DeliveryFacts, error) {
	ids := make([]uuid.UUID, 0, len(clicks))
	seen := map[uuid.UUID]bool{}
	for _, c := range clicks {
		if !seen[c.DeliveryID] {
			seen[c.DeliveryID] = true
			ids = append(ids, c.DeliveryID)
		}
	}
	facts := map[uuid.UUID]DeliveryFacts{}
	if r.deliveries != nil {
		var err error
		if facts, err = r.deliveries.DeliveryFacts(ctx, tx, ids); err != nil {
			return nil, err
		}
	}
	for i := range clicks {
		c := &clicks[i]
		if f, ok := facts[c.DeliveryID]; ok {
			c.ContactID = f.ContactID
			if c.ExperimentID == uuid.Nil {
				c.ExperimentID = f.ExperimentID
			}
		}
	}
	return facts, nil
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
