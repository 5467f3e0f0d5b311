package experiments

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/uptrace/bun"
)

// Delivery statuses.
const (
	DeliveryQueued     = "queued"
	DeliverySending    = "sending"
	DeliverySent       = "sent"
	DeliveryFailed     = "failed"
	DeliverySuppressed = "suppressed"
	DeliveryHeldOut    = "held_out"
	DeliveryWaiting    = "waiting"
	DeliveryCancelled  = "cancelled"
)

// pendingWhere selects the deliveries still to send or wait for. It is the
// condition of the partial index deliveries_pending_idx (migration
// 20261203000001), written exactly as there: SQLite uses a partial index for
// a query whose WHERE repeats its condition or names one of its statuses,
// not for an IN list or an OR of two of the three.
const pendingWhere = "(status = '" + DeliveryQueued + "' OR status = '" + DeliverySending + "' OR status = '" + DeliveryWaiting + "')"

// Delivery is one email to one contact in one experiment.
type Delivery struct {
	bun.BaseModel `bun:"table:deliveries"`

	ID           uuid.UUID  `bun:"id,pk,type:uuid"`
	ExperimentID uuid.UUID  `bun:"experiment_id,type:uuid"`
	ContactID    uuid.UUID  `bun:"contact_id,type:uuid"`
	VariantID    *uuid.UUID `bun:"variant_id,type:uuid"`
	Batch        int        `bun:"batch"`
	Status       string     `bun:"status"`
	Attempts     int        `bun:"attempts"`
	LastError    string     `bun:"last_error"`
	MessageID    string     `bun:"message_id"`
	SentAt       *time.Time `bun:"sent_at"`
	UpdatedAt    time.Time  `bun:"updated_at"`
	// JobID and JobAttempt name the send job (and its attempt) that claimed
	// the delivery last.
	JobID      *int64 `bun:"job_id"`
	JobAttempt int    `bun:"job_attempt"`
}

// launchGrace lets a launch time a little in the past (clocks differ) mean now.
const launchGrace = time.Minute

// maxScheduleAhead bounds how far ahead a launch can be scheduled.
const maxScheduleAhead = 366 * 24 * time.Hour

// Launch validates and starts an experiment: it is running at once and its
// audience is assigned in the background (AssignArgs), sending as it goes. With
// at in the future the experiment is scheduled instead, and the lifecycle
// tick launches it at that time. Only a draft (or a scheduled experiment)
// can be launched, so a second launch is a conflict and sends nothing.
func (s *Service) Launch(ctx context.Context, teamID, id uuid.UUID, at *time.Time) (*Experiment, error) {
	if s.jobs == nil {
		return nil, errors.New("experiments: launch: no job queue configured")
	}
	now := s.now().UTC()
	if at != nil {
		switch {
		case at.Before(now.Add(-launchGrace)):
			return nil, &ValidationError{Fields: map[string]string{"at": fmt.Sprintf("%s is in the past; leave \"at\" out to launch now", at.UTC().Format(time.RFC3339))}}
		case at.After(now.Add(maxScheduleAhead)):
			return nil, &ValidationError{Fields: map[string]string{"at": fmt.Sprintf("%s is more than a year ahead", at.UTC().Format(time.RFC3339))}}
		}
	}
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if at != nil && at.After(now) {
			return s.transition(ctx, tx, teamID, id, []Status{StatusDraft}, StatusScheduled, "scheduled",
				func(q *bun.UpdateQuery) *bun.UpdateQuery { return q.Set("scheduled_at = ?", at.UTC()) })
		}
		return s.launchTx(ctx, tx, teamID, id, now)
	})
	if err != nil {
		return nil, wrapLifecycle("launch", id, err)
	}
	return s.Get(ctx, teamID, id)
}

func wrapLifecycle(action string, id uuid.UUID, err error) error {
	if err == nil {
		return nil
	}
	var ce *ConflictError
	if errors.As(err, &ce) || errors.Is(err, ErrNotFound) {
		return err
	}
	return fmt.Errorf("experiments: %s %s: %w", action, id, err)
}

// transition moves an experiment from one of the given statuses to another,
// or says why it cannot.
func (s *Service) transition(ctx context.Context, tx bun.Tx, teamID, id uuid.UUID, from []Status, to Status, verb string,
	extra func(*bun.UpdateQuery) *bun.UpdateQuery) error {
	q := tx.NewUpdate().Table("experiments").Set("status = ?", to).Set("updated_at = ?", s.now().UTC()).
		Where("id = ?", id).Where("team_id = ?", teamID).Where("status IN (?)", bun.In(from))
	if extra != nil {
		q = extra(q)
	}
	res, err := q.Exec(ctx)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	var st struct {
		Status Status `bun:"status"`
	}
	if err := tx.NewSelect().Table("experiments").Column("status").Where("id = ?", id).Where("team_id = ?", teamID).Scan(ctx, &st); err != nil {
		return fmt.Errorf("experiment %s: %w", id, ErrNotFound)
	}
	names := make([]string, len(from))
	for i, f := range from {
		names[i] = string(f)
	}
	return &ConflictError{Reason: fmt.Sprintf("the experiment is %s; only %s can be %s", st.Status, orList(names), verb)}
}

func orList(xs []string) string {
	switch len(xs) {
	case 1:
		return "a " + xs[0] + " experiment"
	default:
		return "a " + strings.Join(xs[:len(xs)-1], ", ") + " or " + xs[len(xs)-1] + " experiment"
	}
}

// launchTx does the launch inside tx: the experiment is running and its
// assignment job is queued. The audience is assigned in the background
// (AssignArgs), page by page, and each page's send jobs start at once.
func (s *Service) launchTx(ctx context.Context, tx bun.Tx, teamID, id uuid.UUID, now time.Time) error {
	err := s.transition(ctx, tx, teamID, id, []Status{StatusDraft, StatusScheduled}, StatusRunning, "launched",
		func(q *bun.UpdateQuery) *bun.UpdateQuery {
			return q.Set("launched_at = ?", now).Set("assign_after = NULL").Set("assign_batches = 0").
				Set("assigned = 0").Set("assign_done = ?", false)
		})
	if err != nil {
		return err
	}
	if _, err := s.jobs.InsertManyTx(ctx, tx.Tx, []river.InsertManyParams{{Args: AssignArgs{ExperimentID: id}}}); err != nil {
		return fmt.Errorf("enqueue assignment: %w", err)
	}
	return nil
}

// enqueue inserts the send jobs of batches [from, to) in tx. A batch has at
// most one send job waiting, running or retrying (SendBatchArgs.InsertOpts):
// inserting it again is a no-op.
func (s *Service) enqueue(ctx context.Context, tx bun.Tx, id uuid.UUID, from, to int) error {
	batches := make([]int, 0, to-from)
	for b := from; b < to; b++ {
		batches = append(batches, b)
	}
	return s.enqueueBatches(ctx, tx, id, batches)
}

func (s *Service) enqueueBatches(ctx context.Context, tx bun.Tx, id uuid.UUID, batches []int) error {
	params := make([]river.InsertManyParams, 0, len(batches))
	for _, b := range batches {
		params = append(params, river.InsertManyParams{Args: SendBatchArgs{ExperimentID: id, Batch: b}})
	}
	for start := 0; start < len(params); start += 1000 {
		if _, err := s.jobs.InsertManyTx(ctx, tx.Tx, params[start:min(start+1000, len(params))]); err != nil {
			return fmt.Errorf("enqueue send jobs: %w", err)
		}
	}
	return nil
}

// completeIfDone marks a running experiment completed once nothing is left to send or wait for.
func (s *Service) completeIfDone(ctx context.Context, db bun.IDB, id uuid.UUID) error {
	now := s.now().UTC()
	_, err := db.NewUpdate().Table("experiments").Set("status = ?", StatusCompleted).
		Set("completed_at = ?", now).Set("updated_at = ?", now).
		Where("id = ?", id).Where("status = ?", StatusRunning).Where("assign_done = ?", true).
		Where("NOT EXISTS (SELECT 1 FROM deliveries WHERE experiment_id = ? AND "+pendingWhere+")", id).
		Exec(ctx)
	return err
}

// CompleteFinished completes every running experiment whose audience is
// assigned and that has nothing left to send or wait for.
func (s *Service) CompleteFinished(ctx context.Context) error {
	var ids []uuid.UUID
	if err := s.db.NewSelect().Table("experiments").Column("id").
		Where("status = ?", StatusRunning).Where("assign_done = ?", true).Scan(ctx, &ids); err != nil {
		return fmt.Errorf("experiments: complete finished: %w", err)
	}
	for _, id := range ids {
		if err := s.completeIfDone(ctx, s.db, id); err != nil {
			return fmt.Errorf("experiments: complete %s: %w", id, err)
		}
	}
	return nil
}

// Pause stops new sends of a running experiment; batches being sent finish
// the message in hand and put the rest back in the queue.
func (s *Service) Pause(ctx context.Context, teamID, id uuid.UUID) (*Experiment, error) {
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		return s.transition(ctx, tx, teamID, id, []Status{StatusRunning}, StatusPaused, "paused",
			func(q *bun.UpdateQuery) *bun.UpdateQuery { return q.Set("paused_at = ?", s.now().UTC()) })
	})
	if err != nil {
		return nil, wrapLifecycle("pause", id, err)
	}
	return s.Get(ctx, teamID, id)
}

// Resume lets a paused experiment send again: every batch that still has
// queued deliveries gets a send job, unless it has one waiting, running or
// waiting to retry (unique by args), so a batch never has two.
func (s *Service) Resume(ctx context.Context, teamID, id uuid.UUID) (*Experiment, error) {
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if err := s.transition(ctx, tx, teamID, id, []Status{StatusPaused}, StatusRunning, "resumed",
			func(q *bun.UpdateQuery) *bun.UpdateQuery { return q.Set("paused_at = NULL") }); err != nil {
			return err
		}
		var batches []int
		if err := tx.NewSelect().Table("deliveries").ColumnExpr("DISTINCT batch").Where("experiment_id = ?", id).
			Where("status = ?", DeliveryQueued).Scan(ctx, &batches); err != nil {
			return err
		}
		if err := s.enqueueBatches(ctx, tx, id, batches); err != nil {
			return err
		}
		return s.completeIfDone(ctx, tx, id)
	})
	if err != nil {
		return nil, wrapLifecycle("resume", id, err)
	}
	return s.Get(ctx, teamID, id)
}

// Cancel ends an experiment for good: nothing more is sent (deliveries not
// yet sent are marked cancelled); what was sent and clicked stays.
func (s *Service) Cancel(ctx context.Context, teamID, id uuid.UUID) (*Experiment, error) {
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if err := s.transition(ctx, tx, teamID, id, []Status{StatusDraft, StatusScheduled, StatusRunning, StatusPaused},
			StatusCancelled, "cancelled", func(q *bun.UpdateQuery) *bun.UpdateQuery { return q.Set("cancelled_at = ?", s.now().UTC()) }); err != nil {
			return err
		}
		return cancelPending(ctx, tx, id, s.now().UTC())
	})
	if err != nil {
		return nil, wrapLifecycle("cancel", id, err)
	}
	return s.Get(ctx, teamID, id)
}

func cancelPending(ctx context.Context, db bun.IDB, id uuid.UUID, now time.Time) error {
	_, err := cancelPendingQuery(db, id, now).Exec(ctx)
	return err
}

// cancelPendingQuery cancels the experiment's deliveries not yet handed to a
// sender (queued or waiting).
func cancelPendingQuery(db bun.IDB, id uuid.UUID, now time.Time) *bun.UpdateQuery {
	return db.NewUpdate().Table("deliveries").Set("status = ?", DeliveryCancelled).Set("updated_at = ?", now).
		Where("experiment_id = ?", id).Where(pendingWhere).Where("status <> ?", DeliverySending)
}

// LaunchDue launches the scheduled experiments whose time has come.
func (s *Service) LaunchDue(ctx context.Context) (int, error) {
	var due []struct {
		ID     uuid.UUID `bun:"id"`
		TeamID uuid.UUID `bun:"team_id"`
	}
	now := s.now().UTC()
	if err := s.db.NewSelect().Table("experiments").Column("id", "team_id").Where("status = ?", StatusScheduled).
		Where("scheduled_at <= ?", now).Scan(ctx, &due); err != nil {
		return 0, fmt.Errorf("experiments: due launches: %w", err)
	}
	n := 0
	for _, d := range due {
		err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error { return s.launchTx(ctx, tx, d.TeamID, d.ID, now) })
		var ce *ConflictError
		if errors.As(err, &ce) { // another instance launched it first
			continue
		}
		if err != nil {
			return n, fmt.Errorf("experiments: scheduled launch of %s: %w", d.ID, err)
		}
		n++
	}
	return n, nil
}

// audienceRow is a contact as assignment needs it.
type audienceRow struct {
	ID         uuid.UUID `bun:"id"`
	Suppressed bool      `bun:"suppressed"`
}

// coolingDown finds the contacts of a page that another experiment of the
// team emailed within the cool-down, or is about to email.
func (s *Service) coolingDown(ctx context.Context, tx bun.Tx, e *Experiment, contacts []audienceRow, now time.Time) (map[uuid.UUID]bool, error) {
	if s.cfg.ContactCooldown <= 0 {
		return nil, nil
	}
	ids := make([]uuid.UUID, len(contacts))
	for i, c := range contacts {
		ids[i] = c.ID
	}
	var busy []uuid.UUID
	err := tx.NewSelect().TableExpr("deliveries AS d").Join("JOIN experiments AS x ON x.id = d.experiment_id").
		ColumnExpr("DISTINCT d.contact_id").
		Where("x.team_id = ?", e.TeamID).Where("d.experiment_id <> ?", e.ID).Where("d.contact_id IN (?)", bun.In(ids)).
		WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
			return q.Where("d.sent_at >= ?", now.Add(-s.cfg.ContactCooldown)).
				WhereOr("(d.status IN (?, ?, ?) AND x.status IN (?, ?))", DeliveryQueued, DeliverySending, DeliveryWaiting, StatusRunning, StatusPaused)
		}).Scan(ctx, &busy)
	if err != nil {
		return nil, err
	}
	out := make(map[uuid.UUID]bool, len(busy))
	for _, id := range busy {
		out[id] = true
	}
	return out, nil
}
