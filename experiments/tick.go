package experiments

import (
	"context"
	"time"

	"github.com/riverqueue/river"
)

// TickArgs is the periodic River job of the experiment lifecycle: it
// launches scheduled experiments whose time has come, picks the winners of
// test-then-winner experiments whose wait is over, and completes running
// experiments with nothing left to send (the last batch and the end of the
// assignment each try that too, but two of them finishing at the same moment
// can each see the other still at work). The state lives in the
// database, so nothing is lost when a process restarts in between; the
// service's clock decides what is due.
type TickArgs struct{}

// Kind is River's name for the job.
func (TickArgs) Kind() string { return "experiments_tick" }

// InsertOpts keeps at most one tick waiting at a time.
func (TickArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 1, UniqueOpts: river.UniqueOpts{ByPeriod: time.Second}}
}

// Ticker is the worker behind TickArgs.
type Ticker struct {
	river.WorkerDefaults[TickArgs]
	svc *Service
}

// NewTicker builds the lifecycle worker.
func NewTicker(svc *Service) *Ticker { return &Ticker{svc: svc} }

// Work runs one tick.
func (t *Ticker) Work(ctx context.Context, _ *river.Job[TickArgs]) error {
	if _, err := t.svc.LaunchDue(ctx); err != nil {
		return err
	}
	if _, err := t.svc.PickDueWinners(ctx); err != nil {
		return err
	}
	return t.svc.CompleteFinished(ctx)
}
