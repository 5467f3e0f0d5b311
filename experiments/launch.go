package experiments

import (
	"context"
	"errors"
	"fmt"
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
)

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
}

// Launch assigns the audience and queues the send work, in one transaction:
// either every delivery and every send job is written, or nothing is. Only a
// draft can be launched, so a second launch is a conflict and sends nothing.
func (s *Service) Launch(ctx context.Context, teamID, id uuid.UUID) (*Experiment, error) {
	if s.jobs == nil {
		return nil, errors.New("experiments: launch: no job queue configured")
	}
	now := s.now().UTC()
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewUpdate().Table("experiments").
			Set("status = ?", StatusRunning).Set("launched_at = ?", now).Set("updated_at = ?", now).
			Where("id = ?", id).Where("team_id = ?", teamID).Where("status = ?", StatusDraft).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			var st struct {
				Status Status `bun:"status"`
			}
			err := tx.NewSelect().Table("experiments").Column("status").Where("id = ?", id).Where("team_id = ?", teamID).Scan(ctx, &st)
			if err != nil {
				return fmt.Errorf("experiment %s: %w", id, ErrNotFound)
			}
			return &ConflictError{Reason: fmt.Sprintf("the experiment is %s; only a draft can be launched", st.Status)}
		}
		var e Experiment
		if err := tx.NewSelect().Model(&e).Where("id = ?", id).Scan(ctx); err != nil {
			return err
		}
		var variants []*Variant
		if err := tx.NewSelect().Model(&variants).Column("id", "weight").Where("experiment_id = ?", id).Order("position").Scan(ctx); err != nil {
			return err
		}
		weights := make([]float64, len(variants))
		for i, v := range variants {
			weights[i] = v.Weight
		}
		batches, err := s.assignAll(ctx, tx, &e, variants, weights, now)
		if err != nil {
			return err
		}
		params := make([]river.InsertManyParams, 0, batches)
		for b := 0; b < batches; b++ {
			params = append(params, river.InsertManyParams{Args: SendBatchArgs{ExperimentID: id, Batch: b}})
		}
		for start := 0; start < len(params); start += 1000 {
			if _, err := s.jobs.InsertManyTx(ctx, tx.Tx, params[start:min(start+1000, len(params))]); err != nil {
				return fmt.Errorf("enqueue send jobs: %w", err)
			}
		}
		if batches == 0 { // nobody to send to: done at once
			_, err := tx.NewUpdate().Table("experiments").Set("status = ?", StatusCompleted).Set("completed_at = ?", now).
				Where("id = ?", id).Exec(ctx)
			return err
		}
		return nil
	})
	if err != nil {
		var ce *ConflictError
		if errors.As(err, &ce) || errors.Is(err, ErrNotFound) {
			return nil, err
		}
		return nil, fmt.Errorf("experiments: launch %s: %w", id, err)
	}
	return s.Get(ctx, teamID, id)
}

// assignAll writes one delivery per audience contact, page by page, and
// returns the number of send batches.
func (s *Service) assignAll(ctx context.Context, tx bun.Tx, e *Experiment, variants []*Variant, weights []float64, now time.Time) (int, error) {
	const page = 2000
	var after uuid.UUID
	queued := 0
	for {
		var contacts []struct {
			ID         uuid.UUID `bun:"id"`
			Suppressed bool      `bun:"suppressed"`
		}
		q := tx.NewSelect().Table("contacts").
			ColumnExpr("id, (unsubscribed_at IS NOT NULL OR bounced_at IS NOT NULL) AS suppressed").
			Where("team_id = ?", e.TeamID).Where("id > ?", after).Order("id").Limit(page)
		if len(e.Tags) > 0 {
			q = q.Where("id IN (SELECT contact_id FROM contact_tags WHERE team_id = ? AND tag IN (?))", e.TeamID, bun.In(e.Tags))
		}
		if err := q.Scan(ctx, &contacts); err != nil {
			return 0, err
		}
		if len(contacts) == 0 {
			break
		}
		rows := make([]Delivery, len(contacts))
		for i, c := range contacts {
			d := Delivery{ID: newID(), ExperimentID: e.ID, ContactID: c.ID, UpdatedAt: now, Batch: -1}
			arm := Assign(e.ID, c.ID, e.Holdout, weights)
			switch {
			case arm < 0:
				d.Status = DeliveryHeldOut
			case c.Suppressed:
				d.Status = DeliverySuppressed
				d.VariantID = &variants[arm].ID
			default:
				d.Status = DeliveryQueued
				d.VariantID = &variants[arm].ID
				d.Batch = queued / s.cfg.BatchSize
				queued++
			}
			rows[i] = d
		}
		for start := 0; start < len(rows); start += 500 {
			part := rows[start:min(start+500, len(rows))]
			if _, err := tx.NewInsert().Model(&part).Exec(ctx); err != nil {
				return 0, err
			}
		}
		after = contacts[len(contacts)-1].ID
		if len(contacts) < page {
			break
		}
	}
	return (queued + s.cfg.BatchSize - 1) / s.cfg.BatchSize, nil
}
