package experiments

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/uptrace/bun"
	"golang.org/x/time/rate"
)

// How the send rate (SLICELAB_SEND_RATE) holds across instances: every
// process that sends notes itself in send_instances every RateShareEvery,
// and limits its own sending to the rate divided by the number of processes
// that noted themselves within the last RateShareWindow (itself included).
// A process that stops removes its note; one that was killed drops out of
// the count after RateShareWindow, until when the others send a little
// slower than they could. Between two notes the division can be out of
// date: for up to RateShareEvery after an instance starts, it sends at its
// new share while the others still send at their old, larger ones.
const (
	RateShareEvery  = 5 * time.Second
	RateShareWindow = 3 * RateShareEvery
)

// rateShare is the Sender's part in it.
type rateShare struct {
	total    float64 // the configured rate for all instances; 0 = no limit
	instance string
	stop     chan struct{}
	done     chan struct{}
}

func newInstanceID() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return host + "-" + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(b[:])
}

// setShare limits this process to total/n messages a second.
func (w *Sender) setShare(n int) {
	if w.share.total <= 0 {
		return
	}
	r := w.share.total / float64(max(1, n))
	w.limiter.SetLimit(rate.Limit(r))
	w.limiter.SetBurst(max(1, int(r/10)))
}

// ShareRate notes this process in send_instances and sets its share of the
// rate; it returns how many instances share it. StartRateShare calls it
// every RateShareEvery.
func (w *Sender) ShareRate(ctx context.Context) (int, error) {
	if w.share.total <= 0 {
		return 1, nil
	}
	now := w.now().UTC()
	var n int
	err := w.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewRaw("INSERT INTO send_instances (id, seen_at) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at",
			w.share.instance, now).Exec(ctx); err != nil {
			return err
		}
		if _, err := tx.NewRaw("DELETE FROM send_instances WHERE seen_at < ?", now.Add(-10*RateShareWindow)).Exec(ctx); err != nil {
			return err
		}
		return tx.NewRaw("SELECT count(*) FROM send_instances WHERE seen_at >= ?", now.Add(-RateShareWindow)).Scan(ctx, &n)
	})
	if err != nil {
		return 0, fmt.Errorf("send: share the send rate: %w", err)
	}
	w.setShare(n)
	return n, nil
}

// StartRateShare sets this process's share of the send rate and keeps it up
// to date until Close (nothing to do without a rate limit).
func (w *Sender) StartRateShare() {
	if w.share.total <= 0 || w.share.stop != nil {
		return
	}
	note := func() {
		ctx, cancel := context.WithTimeout(context.Background(), RateShareEvery)
		defer cancel()
		if _, err := w.ShareRate(ctx); err != nil {
			// Keep the last share: sending goes on at the rate last known.
			w.log.Warn("send rate", "err", err)
		}
	}
	note() // the first share before the first message
	w.share.stop, w.share.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(w.share.done)
		t := time.NewTicker(RateShareEvery)
		defer t.Stop()
		for {
			select {
			case <-w.share.stop:
				return
			case <-t.C:
			}
			note()
		}
	}()
}

// stopRateShare ends StartRateShare's loop and removes this process's note,
// so that the others take its share at their next note.
func (w *Sender) stopRateShare() {
	if w.share.total <= 0 {
		return
	}
	if w.share.stop != nil {
		close(w.share.stop)
		<-w.share.done
		w.share.stop = nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := w.db.NewRaw("DELETE FROM send_instances WHERE id = ?", w.share.instance).Exec(ctx); err != nil {
		w.log.Warn("send rate: remove this instance", "err", err)
	}
}
