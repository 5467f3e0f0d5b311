package experiments

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// PickDueWinners finishes the test phase of every running test-then-winner
// experiment whose wait is over: it picks the winner by the rule and queues
// the waiting contacts for it (or for the control, or for nobody).
func (s *Service) PickDueWinners(ctx context.Context) (int, error) {
	var due []Experiment
	if err := s.db.NewSelect().Model(&due).Column("id", "team_id", "launched_at", "winner_wait_seconds").
		Where("status = ?", StatusRunning).Where("test_share IS NOT NULL").Where("winner_picked_at IS NULL").
		Where("assign_done = ?", true). // every waiting contact is assigned

		Scan(ctx); err != nil {
		return 0, fmt.Errorf("experiments: due winners: %w", err)
	}
	now := s.now().UTC()
	n := 0
	for _, e := range due {
		if e.LaunchedAt == nil || now.Before(e.LaunchedAt.Add(time.Duration(e.WinnerWaitSeconds)*time.Second)) {
			continue
		}
		if err := s.pickWinner(ctx, e.TeamID, e.ID, now); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func (s *Service) pickWinner(ctx context.Context, teamID, id uuid.UUID, now time.Time) error {
	e, err := s.load(ctx, teamID, id)
	if err != nil {
		return err
	}
	res, err := s.resultsOf(ctx, e)
	if err != nil {
		return err
	}
	winner, reason := decideWinner(e, res)
	return s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		// Guard against a concurrent tick: only one picks.
		r, err := tx.NewUpdate().Table("experiments").Set("winner_picked_at = ?", now).Set("winner_reason = ?", reason).
			Set("winner_variant_id = ?", winner).Set("updated_at = ?", now).
			Where("id = ?", id).Where("winner_picked_at IS NULL").Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := r.RowsAffected(); n != 1 {
			return nil
		}
		if winner == nil {
			_, err := tx.NewUpdate().Table("deliveries").Set("status = ?", DeliveryCancelled).
				Set("last_error = ?", "no winner: "+reason).Set("updated_at = ?", now).
				Where("experiment_id = ?", id).Where("status = ?", DeliveryWaiting).Exec(ctx)
			if err != nil {
				return err
			}
			return s.completeIfDone(ctx, tx, id)
		}
		var next int
		if err := tx.NewSelect().Table("deliveries").ColumnExpr("COALESCE(MAX(batch), -1) + 1").
			Where("experiment_id = ?", id).Scan(ctx, &next); err != nil {
			return err
		}
		var waiting []uuid.UUID
		if err := tx.NewSelect().Table("deliveries").Column("id").Where("experiment_id = ?", id).
			Where("status = ?", DeliveryWaiting).Order("id").Scan(ctx, &waiting); err != nil {
			return err
		}
		for i := 0; i < len(waiting); i += s.cfg.BatchSize {
			part := waiting[i:min(i+s.cfg.BatchSize, len(waiting))]
			if _, err := tx.NewUpdate().Table("deliveries").Set("status = ?", DeliveryQueued).
				Set("variant_id = ?", *winner).Set("batch = ?", next+i/s.cfg.BatchSize).Set("updated_at = ?", now).
				Where("id IN (?)", bun.In(part)).Where("status = ?", DeliveryWaiting).Exec(ctx); err != nil {
				return err
			}
		}
		batches := (len(waiting) + s.cfg.BatchSize - 1) / s.cfg.BatchSize
		if err := s.enqueue(ctx, tx, id, next, next+batches); err != nil {
			return err
		}
		return s.completeIfDone(ctx, tx, id)
	})
}

// decideWinner picks the variant the waiting contacts get: the rule's
// winner, or the fallback.
func decideWinner(e *Experiment, res *Results) (*uuid.UUID, string) {
	if id, why := ruleWinner(e, res); id != nil {
		return id, why
	} else if e.WinnerFallback == "none" {
		return nil, why + "; nothing more is sent"
	} else {
		for _, v := range res.Variants {
			if v.Control {
				cid := v.ID
				return &cid, why + "; the control goes to the rest"
			}
		}
		return nil, why + "; there is no control, so nothing more is sent"
	}
}

// ruleWinner applies the rule of product.md §7 with the experiment's engine,
// once every arm has the minimum deliveries: Bayesian, the variant with the
// highest chance to beat the control of at least the minimum; frequentist,
// the variant with the highest lift among those with p < 0.05
// (Holm-adjusted) and a lift interval above 0. It says why when there is none.
func ruleWinner(e *Experiment, res *Results) (*uuid.UUID, string) {
	hasControl := false
	for _, v := range res.Variants {
		hasControl = hasControl || v.Control
		if v.Weight > 0 && v.Sent < e.WinnerMinPerArm {
			return nil, fmt.Sprintf("variant %q has %d deliveries, fewer than the %d per arm the rule needs", v.Name, v.Sent, e.WinnerMinPerArm)
		}
	}
	if !hasControl {
		return nil, "no control"
	}
	var best *VariantResult
	var bestEv evidence
	for i := range res.Variants {
		v := &res.Variants[i]
		ev := e.judge(*v, e.WinnerMinChance)
		if ev.wins && (best == nil || ev.rank > bestEv.rank) {
			best, bestEv = v, ev
		}
	}
	if best == nil {
		if e.engine() == EngineFrequentist {
			return nil, "no variant beats the control at p < 0.05 (Holm-adjusted) with a lift interval above 0"
		}
		return nil, fmt.Sprintf("no variant beats the control with a chance of %s or more", percent(e.WinnerMinChance))
	}
	id := best.ID
	if e.engine() == EngineFrequentist {
		return &id, fmt.Sprintf("variant %q beats the control: %s", best.Name, liftText(*best.Lift, best.LiftCI))
	}
	return &id, fmt.Sprintf("variant %q beats the control with a chance of %.1f%%", best.Name, *best.ChanceToBeatControl*100)
}
