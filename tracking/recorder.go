package tracking

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// ErrRecorderClosed is returned by Record once the Recorder has stopped.
var ErrRecorderClosed = errors.New("tracking: click recorder is closed")

// Where a batch of clicks went (RecorderObserver.Batch).
const (
	ToLedger = "ledger"
	ToSpool  = "spool"
	ToLost   = "lost" // neither the ledger nor the spool took it; the callers got the error
)

// RecorderObserver is told what the recorder does; the composition root
// turns it into metrics.
type RecorderObserver interface {
	// Batch: a batch of size clicks was written to (ToLedger, ToSpool or
	// ToLost), which took took.
	Batch(size int, took time.Duration, to string)
	// Replayed: n spooled clicks reached the ledger.
	Replayed(n int)
}

// RecorderConfig tunes the group commit of the click ledger.
type RecorderConfig struct {
	// Writers is how many batches may be in flight at once (0: 1). SQLite
	// has one writer per file, so 1 there; PostgreSQL commits several at once.
	Writers int
	// MaxBatch is the most clicks in one INSERT (0: 1000).
	MaxBatch int
	// CommitTimeout is how long a batch may wait for the ledger before it
	// goes to the spool instead (0: 2 s).
	CommitTimeout time.Duration
	// Linger: a writer that finds fewer than lingerBelow clicks queued
	// waits this long for more before it writes them (0: 200 µs; negative:
	// never). When commits are fast, batches would otherwise stay tiny and
	// each click would pay a whole statement; a fraction of a millisecond
	// lets the next requests join.
	Linger time.Duration
	// Spool takes the clicks while the ledger cannot be written; nil: the
	// error reaches the callers.
	Spool *Spool
	// ReplayEvery is how often a spool with clicks in it is offered to the
	// ledger again (0: 1 s).
	ReplayEvery time.Duration
	// Committed is called after clicks reached the ledger (the projector's
	// nudge); may be nil.
	Committed func()
	Observer  RecorderObserver
	Log       *slog.Logger
}

// Recorder writes the raw clicks to the ledger with group commit: while one
// batch is in flight the next callers queue, and the queue is written in the
// next single INSERT. Record returns once its click is durable: committed
// to the ledger or, while the ledger cannot be written, fsynced to the
// spool file. It never reads the database.
type Recorder struct {
	ledger *Ledger
	cfg    RecorderConfig
	log    *slog.Logger

	mu     sync.Mutex
	cond   *sync.Cond
	cur    *pendingBatch   // forming
	ready  []*pendingBatch // full, waiting for a writer
	closed bool

	spooling atomic.Bool // the ledger failed; batches go to the spool until it is replayed

	writers    sync.WaitGroup
	stopReplay chan struct{}
	replayDone chan struct{}
	closeOnce  sync.Once
}

// lingerBelow: a batch this small waits RecorderConfig.Linger for company.
const lingerBelow = 8

type pendingBatch struct {
	clicks []RawClick
	done   chan struct{}
	err    error
}

func (r *Recorder) newBatch() *pendingBatch {
	return &pendingBatch{clicks: make([]RawClick, 0, min(r.cfg.MaxBatch, 64)), done: make(chan struct{})}
}

// NewRecorder starts the writers (and, with a spool, the replayer); Close
// stops them after the clicks already handed over are written.
func NewRecorder(ledger *Ledger, cfg RecorderConfig) *Recorder {
	if cfg.Writers <= 0 {
		cfg.Writers = 1
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 1000
	}
	if cfg.CommitTimeout <= 0 {
		cfg.CommitTimeout = 2 * time.Second
	}
	if cfg.ReplayEvery <= 0 {
		cfg.ReplayEvery = time.Second
	}
	if cfg.Linger == 0 {
		cfg.Linger = 200 * time.Microsecond
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	r := &Recorder{ledger: ledger, cfg: cfg, log: cfg.Log, stopReplay: make(chan struct{}), replayDone: make(chan struct{})}
	r.cond = sync.NewCond(&r.mu)
	r.cur = r.newBatch()
	for range cfg.Writers {
		r.writers.Add(1)
		go r.writer()
	}
	if cfg.Spool != nil {
		go r.replayLoop()
	} else {
		close(r.replayDone)
	}
	return r
}

// Record hands c to the writers and waits until it is durable. Once handed
// over, the click is written whatever the caller's context does.
func (r *Recorder) Record(_ context.Context, c RawClick) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return ErrRecorderClosed
	}
	b := r.cur
	b.clicks = append(b.clicks, c)
	if len(b.clicks) >= r.cfg.MaxBatch {
		r.ready = append(r.ready, b)
		r.cur = r.newBatch()
	}
	r.mu.Unlock()
	r.cond.Signal()
	<-b.done
	return b.err
}

// Spooling tells whether clicks are going to the spool (the ledger failed
// and the spool has not been replayed yet).
func (r *Recorder) Spooling() bool { return r.spooling.Load() }

// Close stops accepting clicks, writes the ones already handed over, tries
// once more to replay the spool, and returns when the writers have exited.
// Stop the HTTP server first so that no request is cut off.
func (r *Recorder) Close() {
	r.closeOnce.Do(func() {
		r.mu.Lock()
		r.closed = true
		r.mu.Unlock()
		r.cond.Broadcast()
		r.writers.Wait()
		close(r.stopReplay)
		<-r.replayDone
		if r.cfg.Spool != nil && r.cfg.Spool.Pending() > 0 {
			r.replay()
		}
	})
}

func (r *Recorder) writer() {
	defer r.writers.Done()
	for {
		r.mu.Lock()
		for len(r.ready) == 0 && len(r.cur.clicks) == 0 && !r.closed {
			r.cond.Wait()
		}
		if r.cfg.Linger > 0 && len(r.ready) == 0 && len(r.cur.clicks) < lingerBelow && !r.closed {
			r.mu.Unlock()
			time.Sleep(r.cfg.Linger)
			r.mu.Lock()
		}
		var b *pendingBatch
		switch {
		case len(r.ready) > 0:
			b = r.ready[0]
			r.ready[0] = nil
			r.ready = r.ready[1:]
		case len(r.cur.clicks) > 0:
			b = r.cur
			r.cur = r.newBatch()
		default: // closed, and nothing left
			r.mu.Unlock()
			return
		}
		r.mu.Unlock()
		r.flush(b)
	}
}

// flush writes one batch to the ledger, or to the spool when the ledger
// fails or has failed, and wakes its callers.
func (r *Recorder) flush(b *pendingBatch) {
	start := time.Now()
	to := ToLedger
	var err error
	if r.cfg.Spool != nil && r.spooling.Load() {
		to, err = ToSpool, r.toSpool(b.clicks, nil)
	} else {
		// A background context: a click that was handed over must be
		// written even while the service shuts down.
		ctx, cancel := context.WithTimeout(context.Background(), r.cfg.CommitTimeout)
		err = r.ledger.Append(ctx, b.clicks)
		cancel()
		if err != nil && r.cfg.Spool != nil {
			ledgerErr := err
			to, err = ToSpool, r.toSpool(b.clicks, err)
			// Spooling only once the batch is in the spool: a replay that
			// ran in between would find the spool empty and switch
			// spooling off again while the ledger is still down.
			if err == nil && r.spooling.CompareAndSwap(false, true) {
				r.log.Warn("the click ledger cannot be written; clicks go to the spool until it can",
					"err", ledgerErr, "spool", r.cfg.Spool.Path())
			}
		}
	}
	if err != nil {
		to = ToLost
		r.log.Error("clicks not recorded", "err", err, "clicks", len(b.clicks))
	}
	if r.cfg.Observer != nil {
		r.cfg.Observer.Batch(len(b.clicks), time.Since(start), to)
	}
	b.err = err
	close(b.done)
	if to == ToLedger && r.cfg.Committed != nil {
		r.cfg.Committed()
	}
}

func (r *Recorder) toSpool(clicks []RawClick, ledgerErr error) error {
	err := r.cfg.Spool.Append(clicks)
	if err == nil {
		return nil
	}
	if ledgerErr != nil {
		return fmt.Errorf("%w; and the spool failed too: %w", ledgerErr, err)
	}
	return err
}

func (r *Recorder) replayLoop() {
	defer close(r.replayDone)
	t := time.NewTicker(r.cfg.ReplayEvery)
	defer t.Stop()
	// What an earlier run left in the spool goes first.
	if r.cfg.Spool.Pending() > 0 {
		r.replay()
	}
	for {
		select {
		case <-r.stopReplay:
			return
		case <-t.C:
		}
		if r.spooling.Load() || r.cfg.Spool.Pending() > 0 {
			r.replay()
		}
	}
}

// replay moves the spool into the ledger; when it is empty, the writers go
// back to the ledger.
func (r *Recorder) replay() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := r.cfg.Spool.Replay(ctx, r.cfg.MaxBatch, func(ctx context.Context, clicks []RawClick) error {
		cctx, ccancel := context.WithTimeout(ctx, r.cfg.CommitTimeout)
		defer ccancel()
		return r.ledger.Append(cctx, clicks)
	}, func() {
		if r.spooling.CompareAndSwap(true, false) {
			r.log.Info("the click ledger is back; spooled clicks replayed")
		}
	})
	if n > 0 {
		if r.cfg.Observer != nil {
			r.cfg.Observer.Replayed(n)
		}
		if r.cfg.Committed != nil {
			r.cfg.Committed()
		}
	}
	if err != nil {
		r.log.Debug("spool not replayed yet", "err", err, "pending", r.cfg.Spool.Pending())
	}
}
