package tracking

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// The Projector classifies the clicks of the ledger and rolls them up,
// after the redirect: it reads the ledger in order from the position stored
// in click_projection, applies the bot rules (product.md §12) to each chunk
// against the clicks already classified, and in one transaction stores the
// classified clicks (table clicks), marks earlier clicks that the chunk
// reveals as automated, updates the rollups (variant_clicks, first_clicks,
// weekly_clickers, the clicked counts of variant_weekly) and moves the
// position on. A crash anywhere before the commit leaves everything as it
// was, position included, so the chunk is projected again from scratch:
// reprocessing changes nothing.
//
// One projector per database is active: it holds a lease (holder and
// lease_until in click_projection), renews it as it works, and every chunk's
// transaction first checks that it still holds it at the position it
// started from; a projector that lost its lease (it stalled past the lease,
// and another took over) commits nothing.
//
// What is read from the database for a chunk does not grow with earlier
// traffic: the facts of the chunk's deliveries and the latest stored click
// of each of their links are kept in memory while the lease is held, so a
// link hit thousands of times a second costs no more per click than
// clicks spread over many emails.
type Projector struct {
	main       *bun.DB
	ledger     *Ledger
	deliveries Deliveries
	cfg        ProjectorConfig
	now        func() time.Time
	log        *slog.Logger

	wake   chan struct{}
	urgent atomic.Bool // a reader waits (Fresh): skip the Gap
	store  atomic.Bool // and wants as_of stored at once
	stop   context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex // guards the fields below for Lag and State
	holding bool
	pos     LedgerPos
	asOf    time.Time
	// When the lease was last written (real time), the as_of stored then,
	// and whether a chunk was projected since without a fresh as_of.
	renewed    time.Time
	asOfStored time.Time
	dirty      bool
	passed     chan struct{} // closed (and replaced) after every pass

	cache projCache

	// inChunk, when set (by tests), runs in each chunk's transaction just
	// before it commits.
	inChunk func()
}

// ProjectorConfig tunes the projector.
type ProjectorConfig struct {
	Rules Rules
	// Chunk is the most ledger rows projected in one transaction (0: 5000).
	Chunk int
	// Every is how often an idle projector looks at the ledger, and how
	// often it stores how far it is (as_of) (0: 250 ms).
	Every time.Duration
	// Gap is the shortest time between two chunks while clicks keep coming,
	// so that they are projected in fewer, larger transactions (0: 200 ms).
	Gap time.Duration
	// Lease is how long the lease lasts unless renewed (0: 15 s).
	Lease time.Duration
	// Holder names this process in the lease ("": host, pid and a random part).
	Holder   string
	Observer ProjectorObserver
	Log      *slog.Logger
}

// ProjectorObserver is told what the projector does; the composition root
// turns it into metrics.
type ProjectorObserver interface {
	// Projected: a chunk of n ledger rows was projected, in took.
	Projected(n int, took time.Duration)
}

// NewProjector builds a projector that reads ledger and writes into main.
func NewProjector(main *bun.DB, ledger *Ledger, deliveries Deliveries, cfg ProjectorConfig, now func() time.Time) *Projector {
	if cfg.Chunk <= 0 {
		cfg.Chunk = 5000
	}
	if cfg.Every <= 0 {
		cfg.Every = 250 * time.Millisecond
	}
	if cfg.Gap <= 0 {
		cfg.Gap = 200 * time.Millisecond
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 15 * time.Second
	}
	if cfg.Holder == "" {
		host, _ := os.Hostname()
		var b [4]byte
		_, _ = rand.Read(b[:])
		cfg.Holder = host + "-" + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(b[:])
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	return &Projector{main: main, ledger: ledger, deliveries: deliveries, cfg: cfg, now: now, log: cfg.Log,
		wake: make(chan struct{}, 1), passed: make(chan struct{})}
}

// Notify tells the projector that the ledger has new clicks (cheap; never blocks).
func (p *Projector) Notify() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Start runs the projector in the background until Stop.
func (p *Projector) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	p.stop, p.done = cancel, make(chan struct{})
	go func() {
		defer close(p.done)
		p.run(ctx)
	}()
}

// Stop ends the projector after the chunk in hand (whose transaction then
// commits or rolls back whole) and gives up the lease, so that another
// instance can take over at once.
func (p *Projector) Stop() {
	if p.stop == nil {
		return
	}
	p.stop()
	<-p.done
	p.stop = nil
}

var errLeaseLost = errors.New("tracking: the click projector's lease was lost")

func (p *Projector) run(ctx context.Context) {
	defer p.release()
	var last time.Time // when the latest chunk started
	for {
		start := time.Now()
		n, caughtUp, err := p.Step(ctx)
		if ctx.Err() != nil {
			return
		}
		if n > 0 {
			last = start
		}
		var wait time.Duration
		switch {
		case err != nil:
			p.log.Warn("click projector", "err", err)
			wait = time.Second
		case !p.Holding():
			wait = p.cfg.Lease / 3
		case !caughtUp && n > 0:
			continue
		case !caughtUp: // rows held back behind a running transaction (PostgreSQL)
			wait = 20 * time.Millisecond
		default:
			// Idle: wait for new clicks, then give them Gap to batch up.
			gapEnd := last.Add(p.cfg.Gap)
			select {
			case <-ctx.Done():
				return
			case <-p.wake: // new clicks: give them Gap since the last chunk, unless a reader waits
			case <-time.After(p.cfg.Every):
				gapEnd = time.Time{}
			}
			for !p.urgent.Swap(false) && time.Now().Before(gapEnd) {
				select {
				case <-ctx.Done():
					return
				case <-p.wake:
				case <-time.After(time.Until(gapEnd)):
				}
			}
			continue
		}
		if wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
	}
}

// Fresh waits until every click recorded before it was called is in the
// rollups, or until ctx ends (the rollups then lag; as_of says by how much).
// When this process holds the lease it asks for a pass at once; otherwise
// it watches the state the holder stores.
func (p *Projector) Fresh(ctx context.Context) error {
	t := p.now()
	for {
		p.mu.Lock()
		holding, asOf, passed := p.holding, p.asOf, p.passed
		p.mu.Unlock()
		if !holding {
			st, err := NewStore(p.main).ProjectionState(ctx)
			if err != nil {
				return err
			}
			asOf = st.AsOf
		}
		if !asOf.Before(t) {
			return nil
		}
		p.urgent.Store(true)
		p.store.Store(true)
		p.Notify()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-passed:
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// afterPass wakes Fresh's waiters.
func (p *Projector) afterPass() {
	p.mu.Lock()
	close(p.passed)
	p.passed = make(chan struct{})
	p.mu.Unlock()
}

// Holding tells whether this projector holds the lease.
func (p *Projector) Holding() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.holding
}

// Lag is how far behind the ledger the rollups may be: the time since as_of
// as this projector last knew it (0 before it knew anything).
func (p *Projector) Lag() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.asOf.IsZero() {
		return 0
	}
	return max(0, p.now().Sub(p.asOf))
}

// Step takes the lease when needed and, holding it, projects one chunk of
// the ledger. It returns how many ledger rows it projected and whether it
// has caught up with the ledger. Steps run one at a time: call it only when
// Start is not running the projector.
func (p *Projector) Step(ctx context.Context) (int, bool, error) {
	if !p.Holding() {
		ok, err := p.acquire(ctx)
		if err != nil || !ok {
			return 0, false, err
		}
	}
	n, caughtUp, err := p.pass(ctx)
	p.afterPass()
	if errors.Is(err, errLeaseLost) {
		p.drop(true)
		return 0, false, nil
	}
	return n, caughtUp, err
}

// acquire takes the lease when it is free, expired or already this
// projector's, and loads the position from the database.
func (p *Projector) acquire(ctx context.Context) (bool, error) {
	st := NewStore(p.main)
	now := time.Now().UTC()
	ok, err := st.takeLease(ctx, p.cfg.Holder, now, now.Add(p.cfg.Lease))
	if err != nil {
		return false, err
	}
	state, err := st.ProjectionState(ctx)
	if err != nil {
		return false, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.asOf = state.AsOf
	if !ok {
		return false, nil
	}
	p.holding, p.pos, p.renewed, p.asOfStored = true, state.Position, now, state.AsOf
	p.cache = projCache{} // another instance may have projected in between
	p.log.Info("click projector holds the lease", "holder", p.cfg.Holder, "position", state.Position)
	return true, nil
}

// drop forgets the lease (lost, or given up) and what was known under it.
func (p *Projector) drop(lost bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.holding && lost {
		p.log.Warn("click projector lost its lease", "holder", p.cfg.Holder)
	}
	p.holding = false
	p.cache = projCache{}
}

func (p *Projector) release() {
	if !p.Holding() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := NewStore(p.main).releaseLease(ctx, p.cfg.Holder); err != nil {
		p.log.Warn("click projector: give up the lease", "err", err)
	}
	p.drop(false)
}

// pass projects the next chunk of the ledger.
func (p *Projector) pass(ctx context.Context) (int, bool, error) {
	started := time.Now()
	t0 := p.now().UTC()
	p.mu.Lock()
	pos, asOf := p.pos, p.asOf
	p.mu.Unlock()

	raw, caughtUp, err := p.ledger.Read(ctx, pos, p.cfg.Chunk)
	if err != nil {
		return 0, false, err
	}
	if len(raw) == 0 {
		return 0, caughtUp, p.idle(ctx, pos, caughtUp, t0)
	}
	next := LedgerPos{Xid: raw[len(raw)-1].Xid, Seq: raw[len(raw)-1].Seq}
	if caughtUp {
		asOf = t0 // every click committed before t0 is in this chunk or an earlier one
	}

	clicks, spooled := classifyRequests(raw)
	facts, err := p.facts(ctx, clicks)
	if err != nil {
		return 0, false, err
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
	prior, loaded, err := p.prior(ctx, clicks)
	if err != nil {
		return 0, false, err
	}
	retro := classifyBatch(clicks, prior, facts, p.cfg.Rules)

	now := time.Now().UTC()
	var eff rollupEffect
	err = p.main.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		st := NewStore(tx)
		// First, so that two projectors' chunks cannot interleave.
		if err := st.advance(ctx, p.cfg.Holder, pos, next, asOf, len(raw), now, now.Add(p.cfg.Lease)); err != nil {
			return err
		}
		// A click can be in the ledger twice only when the spool replayed it
		// after its first write did commit after all; that first write comes
		// first in the ledger's order, so only clicks that came through the
		// spool can be there already.
		stored := make(map[uuid.UUID]bool, len(clicks))
		for _, c := range clicks {
			stored[c.ID] = true
		}
		if len(spooled) > 0 {
			seen, err := st.classified(ctx, spooled)
			if err != nil {
				return err
			}
			for id := range seen {
				delete(stored, id)
			}
		}
		fresh := clicks
		if len(stored) < len(clicks) {
			fresh = make([]Click, 0, len(stored))
			for _, c := range clicks {
				if stored[c.ID] {
					fresh = append(fresh, c)
				}
			}
		}
		if err := st.insertClassified(ctx, fresh); err != nil {
			return err
		}
		var gone []Click
		for _, r := range retro {
			g, err := st.markAutomated(ctx, r)
			if err != nil {
				return err
			}
			gone = append(gone, g...)
		}
		eff, err = p.rollUp(ctx, st, clicks, stored, gone, facts)
		if err == nil && p.inChunk != nil {
			p.inChunk()
		}
		return err
	})
	if err != nil {
		return 0, false, err
	}
	p.mu.Lock()
	p.pos, p.asOf, p.renewed, p.asOfStored, p.dirty = next, asOf, now, asOf, !caughtUp
	p.cache.apply(clicks, prior, loaded, facts, eff)
	p.mu.Unlock()
	if p.cfg.Observer != nil {
		p.cfg.Observer.Projected(len(raw), time.Since(started))
	}
	return len(raw), caughtUp, nil
}

// idle notes that the projector is caught up as of t0, and stores that
// (with a renewed lease) right after a chunk that did not, when a reader
// waits for it, once a second, and before the lease runs out.
func (p *Projector) idle(ctx context.Context, pos LedgerPos, caughtUp bool, t0 time.Time) error {
	p.mu.Lock()
	asOf, stored, renewed, dirty := p.asOf, p.asOfStored, p.renewed, p.dirty
	if caughtUp {
		asOf = t0
		p.asOf = t0
	}
	p.mu.Unlock()
	now := time.Now().UTC()
	asked := p.store.Swap(false) // a reader waits for as_of
	if now.Sub(renewed) < p.cfg.Lease/3 && !(caughtUp && (dirty || asked || t0.Sub(stored) >= time.Second)) {
		return nil
	}
	err := p.main.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		return NewStore(tx).advance(ctx, p.cfg.Holder, pos, pos, asOf, 0, now, now.Add(p.cfg.Lease))
	})
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.asOfStored, p.renewed = asOf, now
	if caughtUp {
		p.dirty = false
	}
	p.mu.Unlock()
	return nil
}

// classifyRequests turns ledger rows into clicks classified by the request
// alone (method, user agent), leaving out a click id seen twice in the
// chunk, and lists the ids of those that came through the spool. The
// classified view keeps no copy of the request's method, user agent and IP:
// the ledger has them, under the click's id.
func classifyRequests(raw []RawClick) (clicks []Click, spooled []uuid.UUID) {
	clicks = make([]Click, 0, len(raw))
	seen := make(map[uuid.UUID]struct{}, len(raw))
	for _, r := range raw {
		if _, dup := seen[r.ID]; dup {
			continue
		}
		seen[r.ID] = struct{}{}
		if r.Spooled {
			spooled = append(spooled, r.ID)
		}
		automated, reason := Classify(r.Method, r.UserAgent)
		clicks = append(clicks, Click{ID: r.ID, DeliveryID: r.DeliveryID, ExperimentID: r.ExperimentID, VariantID: r.VariantID,
			LinkIdx: r.LinkIdx, LinkCount: r.LinkCount, ClickedAt: r.ClickedAt.UTC(), Automated: automated, Reason: reason})
	}
	return clicks, spooled
}

// facts returns the facts of the chunk's deliveries, from memory when it can.
func (p *Projector) facts(ctx context.Context, clicks []Click) (map[uuid.UUID]DeliveryFacts, error) {
	out := map[uuid.UUID]DeliveryFacts{}
	var missing []uuid.UUID
	asked := map[uuid.UUID]bool{}
	for _, c := range clicks {
		if asked[c.DeliveryID] {
			continue
		}
		asked[c.DeliveryID] = true
		if f, ok := p.cache.facts[c.DeliveryID]; ok {
			out[c.DeliveryID] = f
		} else {
			missing = append(missing, c.DeliveryID)
		}
	}
	if len(missing) == 0 || p.deliveries == nil {
		return out, nil
	}
	for start := 0; start < len(missing); start += 1000 {
		got, err := p.deliveries.DeliveryFacts(ctx, p.main, missing[start:min(len(missing), start+1000)])
		if err != nil {
			return nil, fmt.Errorf("tracking: delivery facts: %w", err)
		}
		for id, f := range got {
			out[id] = f
		}
	}
	return out, nil
}

// prior returns, for the chunk's deliveries, the latest stored click per
// link at or after the chunk's earliest click less honeypotWindow: from
// memory for deliveries whose clicks this projector has followed since
// before then, from the database for the others (loaded, which the cache
// then remembers).
func (p *Projector) prior(ctx context.Context, clicks []Click) ([]linkLast, map[uuid.UUID]time.Time, error) {
	earliest := clicks[0].ClickedAt
	for _, c := range clicks {
		if c.ClickedAt.Before(earliest) {
			earliest = c.ClickedAt
		}
	}
	since := earliest.Add(-honeypotWindow)
	var out []linkLast
	var missing []uuid.UUID
	asked := map[uuid.UUID]bool{}
	for _, c := range clicks {
		if asked[c.DeliveryID] {
			continue
		}
		asked[c.DeliveryID] = true
		ls, ok := p.cache.links[c.DeliveryID]
		if !ok || ls.from.After(since) {
			missing = append(missing, c.DeliveryID)
			continue
		}
		for link, at := range ls.last {
			out = append(out, linkLast{DeliveryID: c.DeliveryID, LinkIdx: link, LastAt: at})
		}
	}
	loaded := make(map[uuid.UUID]time.Time, len(missing))
	for start := 0; start < len(missing); start += 1000 {
		part := missing[start:min(len(missing), start+1000)]
		rows, err := NewStore(p.main).lastClicks(ctx, part, since)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, rows...)
		for _, d := range part {
			loaded[d] = since
		}
	}
	return out, loaded, nil
}

// ---- the projector's memory ----

// maxCached bounds each of the projector's maps; they are cleared when full.
const maxCached = 200_000

// projCache is what the projector knows of the database while it holds the
// lease (no other process writes these tables then). It changes only after
// a chunk's transaction committed.
type projCache struct {
	facts  map[uuid.UUID]DeliveryFacts // sent deliveries (their facts do not change)
	links  map[uuid.UUID]*linkState
	first  map[uuid.UUID]time.Time    // first_clicks.clicked_at of deliveries known to have one
	weekly map[weeklyClicker]struct{} // rows known to be in weekly_clickers
}

// linkState is a delivery's latest click per link; exact for clicks at or
// after from.
type linkState struct {
	from time.Time
	last map[int]time.Time
}

func (c *projCache) apply(clicks []Click, prior []linkLast, loaded map[uuid.UUID]time.Time, facts map[uuid.UUID]DeliveryFacts, eff rollupEffect) {
	if c.links == nil || len(c.links) > maxCached || len(c.facts) > maxCached || len(c.first) > maxCached || len(c.weekly) > maxCached {
		*c = projCache{facts: map[uuid.UUID]DeliveryFacts{}, links: map[uuid.UUID]*linkState{},
			first: map[uuid.UUID]time.Time{}, weekly: map[weeklyClicker]struct{}{}}
		// What was loaded for this chunk is still true.
	}
	for id, f := range facts {
		if f.SentAt != nil {
			c.facts[id] = f
		}
	}
	for d, since := range loaded {
		c.links[d] = &linkState{from: since, last: map[int]time.Time{}}
	}
	note := func(d uuid.UUID, link int, at time.Time) {
		if ls, ok := c.links[d]; ok {
			if last, ok := ls.last[link]; !ok || at.After(last) {
				ls.last[link] = at
			}
		}
	}
	for _, l := range prior {
		note(l.DeliveryID, l.LinkIdx, l.LastAt)
	}
	for _, ck := range clicks {
		note(ck.DeliveryID, ck.LinkIdx, ck.ClickedAt)
	}
	for d, at := range eff.first {
		c.first[d] = at
	}
	for _, d := range eff.noFirst {
		delete(c.first, d)
	}
	for _, k := range eff.weeklyAdded {
		c.weekly[k] = struct{}{}
	}
	for _, k := range eff.weeklyDropped {
		delete(c.weekly, k)
	}
}
