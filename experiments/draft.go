package experiments

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// draftOnly updates the experiment's row only while it is a draft, and says
// why not otherwise (a launched experiment is read-only).
func (s *Service) draftOnly(ctx context.Context, tx bun.Tx, teamID, id uuid.UUID, set func(*bun.UpdateQuery) *bun.UpdateQuery) error {
	return s.transition(ctx, tx, teamID, id, []Status{StatusDraft}, StatusDraft, "changed", set)
}

// UpdateDraft replaces a draft's settings and variants with in, validated as
// Create validates. Variants get new ids and their links are rewritten.
// Links to key results stay as they are (in.KeyResultIDs is ignored: the OKR
// layer links and unlinks). A launched, scheduled or cancelled experiment is
// a ConflictError; bad input is a ValidationError and changes nothing.
func (s *Service) UpdateDraft(ctx context.Context, teamID, id uuid.UUID, in CreateInput) (*Experiment, error) {
	variants, err := in.validate(s.cfg)
	if err != nil {
		return nil, err
	}
	tags := in.Audience.Tags
	if tags == nil {
		tags = []string{}
	}
	for i := range tags {
		tags[i] = strings.TrimSpace(tags[i])
	}
	e := &Experiment{Name: in.Name, Hypothesis: strings.TrimSpace(in.Hypothesis), Initiative: strings.TrimSpace(in.Initiative),
		Holdout: in.Holdout, Tags: tags, WinnerMinPerArm: 100, WinnerMinChance: 0.95, WinnerFallback: "control",
		ViabilityMinChance: 0.95, ViabilityMinSample: 100}
	if w := in.Winner; w != nil {
		d, _ := time.ParseDuration(w.Wait)
		share := w.TestShare
		e.TestShare, e.WinnerWaitSeconds = &share, int64(d/time.Second)
		if w.MinPerArm != nil {
			e.WinnerMinPerArm = *w.MinPerArm
		}
		if w.MinChance != nil {
			e.WinnerMinChance = *w.MinChance
		}
		if w.Fallback != "" {
			e.WinnerFallback = w.Fallback
		}
	}
	if v := in.Viability; v != nil {
		e.ViabilityMetric, e.ViabilityThreshold = v.Metric, v.Threshold
		if v.MinChance > 0 {
			e.ViabilityMinChance = v.MinChance
		}
		if v.MinSample > 0 {
			e.ViabilityMinSample = v.MinSample
		}
	}
	tagsJSON, err := json.Marshal(tags)
	if err != nil {
		return nil, err
	}
	err = s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		err := s.draftOnly(ctx, tx, teamID, id, func(q *bun.UpdateQuery) *bun.UpdateQuery {
			return q.Set("name = ?", e.Name).Set("hypothesis = ?", e.Hypothesis).Set("initiative = ?", e.Initiative).
				Set("holdout = ?", e.Holdout).Set("audience_tags = ?", string(tagsJSON)).
				Set("test_share = ?", e.TestShare).Set("winner_wait_seconds = ?", e.WinnerWaitSeconds).
				Set("winner_min_per_arm = ?", e.WinnerMinPerArm).Set("winner_min_chance = ?", e.WinnerMinChance).
				Set("winner_fallback = ?", e.WinnerFallback).
				Set("viability_metric = ?", e.ViabilityMetric).Set("viability_threshold = ?", e.ViabilityThreshold).
				Set("viability_min_chance = ?", e.ViabilityMinChance).Set("viability_min_sample = ?", e.ViabilityMinSample)
		})
		if err != nil {
			return err
		}
		links := s.clicks.WithTx(tx)
		if err := links.DeleteLinks(ctx, id); err != nil {
			return err
		}
		if _, err := tx.NewDelete().Model((*Variant)(nil)).Where("experiment_id = ?", id).Exec(ctx); err != nil {
			return err
		}
		for _, v := range variants {
			v.ExperimentID = id
		}
		if _, err := tx.NewInsert().Model(&variants).Exec(ctx); err != nil {
			return err
		}
		for _, v := range variants {
			if err := links.SaveLinks(ctx, id, v.ID, v.Links); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, wrapDraft("update", id, err)
	}
	return s.Get(ctx, teamID, id)
}

// DeleteDraft deletes a draft with its variants and links (and its links to
// key results, which the database drops with it). Anything launched stays:
// its deliveries and clicks are history; cancel it instead.
func (s *Service) DeleteDraft(ctx context.Context, teamID, id uuid.UUID) error {
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if err := s.draftOnly(ctx, tx, teamID, id, nil); err != nil {
			return err
		}
		if err := s.clicks.WithTx(tx).DeleteLinks(ctx, id); err != nil {
			return err
		}
		if _, err := tx.NewDelete().Model((*Variant)(nil)).Where("experiment_id = ?", id).Exec(ctx); err != nil {
			return err
		}
		_, err := tx.NewDelete().Model((*Experiment)(nil)).Where("id = ?", id).Where("team_id = ?", teamID).Exec(ctx)
		return err
	})
	return wrapDraft("delete", id, err)
}

func wrapDraft(action string, id uuid.UUID, err error) error {
	var ce *ConflictError
	if err == nil || errors.As(err, &ce) || errors.Is(err, ErrNotFound) {
		if ce != nil {
			ce.Reason = strings.Replace(ce.Reason, "only a draft experiment can be changed", "only a draft can be "+map[string]string{"update": "changed", "delete": "deleted"}[action]+"; a launched experiment is read-only", 1)
		}
		return err
	}
	return fmt.Errorf("experiments: %s draft %s: %w", action, id, err)
}
