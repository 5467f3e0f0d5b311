package experiments

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"slicelab/tracking"
)

// AssignArgs is the River job that assigns a launched experiment's audience:
// one delivery per contact, a page of contacts per transaction, and the send
// jobs of each page's batches in the same transaction, so sending starts with
// the first page. The position is stored on the experiment with each page:
// a job that is retried (after a crash, say) goes on where it stopped.
type AssignArgs struct {
	ExperimentID uuid.UUID `json:"experiment_id"`
}

// Kind is River's name for the job.
func (AssignArgs) Kind() string { return "assign_audience" }

// InsertOpts: one assignment per experiment, on its own queue.
func (AssignArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueAssign, MaxAttempts: 25, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// QueueAssign is the queue of assignment jobs.
const QueueAssign = "assign"

// assignPage is how many contacts one transaction assigns (on SQLite, whose
// one connection the senders share, assignPageSQLite, and the assignment
// rests as long as each page took: the senders get the connection half the
// time). assignSlice is how long one run of the job assigns before it makes
// way (snoozes, to go on at once), which keeps each run well inside the job
// timeout.
const (
	assignPage       = 2000
	assignPageSQLite = 500
	assignSlice      = 10 * time.Second
)

// Assigner is the River worker behind AssignArgs.
type Assigner struct {
	river.WorkerDefaults[AssignArgs]
	svc *Service
}

// NewAssigner builds the assignment worker.
func NewAssigner(svc *Service) *Assigner { return &Assigner{svc: svc} }

// Timeout bounds one run (assignSlice, then it snoozes).
func (w *Assigner) Timeout(*river.Job[AssignArgs]) time.Duration { return JobTimeout }

// Work assigns pages until the audience is done or the slice is used up.
func (w *Assigner) Work(ctx context.Context, job *river.Job[AssignArgs]) error {
	s := w.svc
	var e Experiment
	if err := s.db.NewSelect().Model(&e).Where("id = ?", job.Args.ExperimentID).Scan(ctx); err != nil {
		return fmt.Errorf("assign: load experiment %s: %w", job.Args.ExperimentID, err)
	}
	var variants []*Variant
	if err := s.db.NewSelect().Model(&variants).Column("id", "weight").Where("experiment_id = ?", e.ID).Order("position").Scan(ctx); err != nil {
		return fmt.Errorf("assign: load variants: %w", err)
	}
	weights := make([]float64, len(variants))
	for i, v := range variants {
		weights[i] = v.Weight
	}
	until := time.Now().Add(assignSlice)
	page, rest := assignPage, false
	if s.db.Dialect().Name() != dialect.PG {
		page, rest = assignPageSQLite, true
	}
	for {
		start := time.Now()
		done, err := s.assignNext(ctx, &e, variants, weights, page)
		if err != nil {
			return fmt.Errorf("assign %s: %w", e.ID, err)
		}
		if done {
			return nil
		}
		if rest {
			select {
			case <-ctx.Done():
			case <-time.After(time.Since(start)):
			}
		}
		if ctx.Err() != nil || time.Now().After(until) {
			return river.JobSnooze(0) // go on at once (does not use up an attempt)
		}
	}
}

// assignNext assigns the next page of the audience in one transaction and
// says whether the assignment is done.
func (s *Service) assignNext(ctx context.Context, e *Experiment, variants []*Variant, weights []float64, page int) (bool, error) {
	done := false
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var cur struct {
			Status        Status     `bun:"status"`
			AssignAfter   *uuid.UUID `bun:"assign_after,type:uuid"`
			AssignBatches int        `bun:"assign_batches"`
			AssignDone    bool       `bun:"assign_done"`
		}
		q := tx.NewSelect().Table("experiments").Column("status", "assign_after", "assign_batches", "assign_done").Where("id = ?", e.ID)
		if s.db.Dialect().Name() == dialect.PG { // Pause, Resume and Cancel wait for the page (SQLite: one writer anyway)
			q = q.For("UPDATE")
		}
		if err := q.Scan(ctx, &cur); err != nil {
			return err
		}
		if cur.AssignDone {
			done = true
			return nil
		}
		if cur.Status == StatusCancelled || cur.Status == StatusDraft {
			done = true
			_, err := tx.NewUpdate().Table("experiments").Set("assign_done = ?", true).Where("id = ?", e.ID).Exec(ctx)
			return err
		}
		var after uuid.UUID
		if cur.AssignAfter != nil {
			after = *cur.AssignAfter
		}
		now := s.now().UTC()
		var contacts []audienceRow
		cq := tx.NewSelect().Table("contacts").
			ColumnExpr("id, (unsubscribed_at IS NOT NULL OR bounced_at IS NOT NULL) AS suppressed").
			Where("team_id = ?", e.TeamID).Where("id > ?", after).Order("id").Limit(page)
		if len(e.Tags) > 0 {
			cq = cq.Where("id IN (SELECT contact_id FROM contact_tags WHERE team_id = ? AND tag IN (?))", e.TeamID, bun.In(e.Tags))
		}
		if err := cq.Scan(ctx, &contacts); err != nil {
			return err
		}
		done = len(contacts) < page
		queued := 0
		if len(contacts) > 0 {
			cooling, err := s.coolingDown(ctx, tx, e, contacts, now)
			if err != nil {
				return err
			}
			rows := make([]Delivery, len(contacts))
			for i, c := range contacts {
				rows[i] = s.assignOne(e, variants, weights, c, cooling[c.ID], now, cur.AssignBatches, &queued)
			}
			for start := 0; start < len(rows); start += 1000 { // multi-row inserts
				part := rows[start:min(start+1000, len(rows))]
				if err := insertDeliveries(ctx, tx, part); err != nil {
					return err
				}
			}
			after = contacts[len(contacts)-1].ID
		}
		batches := (queued + s.cfg.BatchSize - 1) / s.cfg.BatchSize
		uq := tx.NewUpdate().Table("experiments").Set("assign_batches = assign_batches + ?", batches).
			Set("assigned = assigned + ?", len(contacts)).Set("assign_done = ?", done).Where("id = ?", e.ID)
		if len(contacts) > 0 {
			uq = uq.Set("assign_after = ?", after)
		}
		if _, err := uq.Exec(ctx); err != nil {
			return err
		}
		if batches > 0 {
			if err := s.enqueue(ctx, tx, e.ID, cur.AssignBatches, cur.AssignBatches+batches); err != nil {
				return err
			}
		}
		if done {
			return s.completeIfDone(ctx, tx, e.ID)
		}
		return nil
	})
	return done, err
}

// assignOne decides one contact's delivery: the holdout, suppressed, cooling
// down, waiting for the winner or queued in the page's next send batch
// (batches of a page start at base; queued counts the page's queued ones).
func (s *Service) assignOne(e *Experiment, variants []*Variant, weights []float64, c audienceRow, cooling bool, now time.Time, base int, queued *int) Delivery {
	d := Delivery{ID: tracking.NewID(), ExperimentID: e.ID, ContactID: c.ID, UpdatedAt: now, Batch: -1}
	arm := Assign(e.ID, c.ID, e.Holdout, weights)
	if arm >= 0 {
		d.VariantID = &variants[arm].ID
	}
	switch {
	case arm < 0:
		d.Status = DeliveryHeldOut
	case c.Suppressed:
		d.Status = DeliverySuppressed
		d.LastError = "unsubscribed or bounced"
	case cooling:
		d.Status = DeliverySuppressed
		d.LastError = fmt.Sprintf("cool-down: emailed by another experiment within %s", s.cfg.ContactCooldown)
	case e.TestShare != nil && !InTestShare(e.ID, c.ID, *e.TestShare):
		d.Status = DeliveryWaiting // gets the winner later
		d.VariantID = nil
	default:
		d.Status = DeliveryQueued
		d.Batch = base + *queued/s.cfg.BatchSize
		*queued++
	}
	return d
}

// AssignNow assigns the rest of a launched experiment's audience in this
// goroutine (the demo loader and tests; the service uses AssignArgs jobs).
// The send jobs of the batches are queued as usual.
func (s *Service) AssignNow(ctx context.Context, id uuid.UUID) error {
	w := &Assigner{svc: s}
	for {
		err := w.Work(ctx, &river.Job[AssignArgs]{Args: AssignArgs{ExperimentID: id}})
		var snooze *rivertype.JobSnoozeError
		if !errors.As(err, &snooze) {
			return err
		}
	}
}

// AssignmentTotals sums up the assignments still running (for /metrics).
type AssignmentTotals struct {
	Running  int `bun:"running"`
	Assigned int `bun:"assigned"`
}

// Assigning counts the launched experiments still assigning their audience
// and the contacts they have assigned so far.
func (s *Service) Assigning(ctx context.Context) (AssignmentTotals, error) {
	var t AssignmentTotals
	err := s.db.NewSelect().Table("experiments").ColumnExpr("count(*) AS running, COALESCE(sum(assigned), 0) AS assigned").
		Where("assign_done = ?", false).Where("status IN (?, ?)", StatusRunning, StatusPaused).Scan(ctx, &t)
	return t, err
}

// insertDeliveries writes newly assigned deliveries in one statement. On
// PostgreSQL the rows go as one array per column into a statement whose
// text never changes: bun would spell every value into the SQL, and the
// driver keeps each distinct statement it prepared (up to 512 of them, each
// as long as its page): at a million contacts that held 60 MB of SQL text.
// On SQLite, bun's multi-row INSERT (without RETURNING: bun would read back
// the nil pointer columns of every row).
func insertDeliveries(ctx context.Context, tx bun.Tx, ds []Delivery) error {
	if tx.Dialect().Name() != dialect.PG {
		_, err := tx.NewInsert().Model(&ds).Returning("NULL").Exec(ctx)
		return err
	}
	n := len(ds)
	ids, exps, contacts, variants := make([]pgtype.UUID, n), make([]pgtype.UUID, n), make([]pgtype.UUID, n), make([]pgtype.UUID, n)
	batches, attempts, jobAttempts := make([]int32, n), make([]int32, n), make([]int32, n)
	statuses, errs, msgIDs := make([]string, n), make([]string, n), make([]string, n)
	sent, updated := make([]pgtype.Timestamptz, n), make([]pgtype.Timestamptz, n)
	jobs := make([]pgtype.Int8, n)
	for i, d := range ds {
		ids[i], exps[i], contacts[i] = pgUUID(&d.ID), pgUUID(&d.ExperimentID), pgUUID(&d.ContactID)
		variants[i] = pgUUID(d.VariantID)
		batches[i], attempts[i], jobAttempts[i] = int32(d.Batch), int32(d.Attempts), int32(d.JobAttempt)
		statuses[i], errs[i], msgIDs[i] = d.Status, d.LastError, d.MessageID
		if d.SentAt != nil {
			sent[i] = pgtype.Timestamptz{Time: *d.SentAt, Valid: true}
		}
		updated[i] = pgtype.Timestamptz{Time: d.UpdatedAt, Valid: true}
		if d.JobID != nil {
			jobs[i] = pgtype.Int8{Int64: *d.JobID, Valid: true}
		}
	}
	_, err := tx.Tx.ExecContext(ctx, `INSERT INTO deliveries (id, experiment_id, contact_id, variant_id, batch, status, attempts, last_error, message_id, sent_at, updated_at, job_id, job_attempt)
		SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::int[], $6::text[], $7::int[], $8::text[], $9::text[], $10::timestamptz[], $11::timestamptz[], $12::bigint[], $13::int[])`,
		ids, exps, contacts, variants, batches, statuses, attempts, errs, msgIDs, sent, updated, jobs, jobAttempts)
	return err
}

// pgUUID is id for pgx (NULL when nil): pgx encodes its own type directly,
// a uuid.UUID only after trying other plans.
func pgUUID(id *uuid.UUID) pgtype.UUID {
	if id == nil {
		return pgtype.UUID{}
	}
	return pgtype.UUID{Bytes: *id, Valid: true}
}
