package experiments

import (
	"context"
	"fmt"
	"strconv"

	"github.com/google/uuid"
)

// percent writes a share as a percentage with no more digits than it has (0.975 → "97.5%").
func percent(x float64) string { return strconv.FormatFloat(x*100, 'f', -1, 64) + "%" }

// Verdict states.
const (
	VerdictViable    = "viable"
	VerdictNotViable = "not_viable"
	VerdictUnknown   = "unknown"
)

// verdict judges the slice by the criterion stated at creation, once every
// arm has the minimum sample (product.md §5).
func verdict(e *Experiment, r *Results) Verdict {
	if e.ViabilityMetric == "" {
		return Verdict{State: VerdictUnknown, Reason: "no viability criterion was stated when the experiment was created"}
	}
	if e.ViabilityMetric == "event_rate" {
		return Verdict{State: VerdictUnknown, Reason: "an event-rate criterion needs conversion events, which slicelab does not ingest yet"}
	}
	for _, v := range r.Variants {
		if v.Weight > 0 && v.Sent < e.ViabilityMinSample {
			return Verdict{State: VerdictUnknown, Reason: fmt.Sprintf("not yet known: variant %q has %d of the %d deliveries per arm a verdict needs",
				v.Name, v.Sent, e.ViabilityMinSample)}
		}
	}
	// The slice is the treatment: judge the variants other than the control,
	// or the control itself when it is the only arm.
	var cands []VariantResult
	for _, v := range r.Variants {
		if !v.Control && v.Weight > 0 {
			cands = append(cands, v)
		}
	}
	if len(cands) == 0 {
		cands = r.Variants
	}
	switch e.ViabilityMetric {
	case "ctr":
		var best *VariantResult
		for i := range cands {
			if cands[i].CTR != nil && (best == nil || *cands[i].CTR > *best.CTR) {
				best = &cands[i]
			}
		}
		if best == nil {
			return Verdict{State: VerdictUnknown, Reason: "no variant has delivered messages yet"}
		}
		if *best.CTR >= e.ViabilityThreshold {
			return Verdict{State: VerdictViable, Reason: fmt.Sprintf("variant %q reached a human CTR of %.2f%%, at or above the %.2f%% threshold",
				best.Name, *best.CTR*100, e.ViabilityThreshold*100)}
		}
		return Verdict{State: VerdictNotViable, Reason: fmt.Sprintf("the best human CTR is %.2f%% (variant %q), below the %.2f%% threshold",
			*best.CTR*100, best.Name, e.ViabilityThreshold*100)}
	case "lift":
		if e.engine() == EngineFrequentist {
			return frequentistLiftVerdict(e, cands)
		}
		var best *VariantResult
		for i := range cands {
			v := &cands[i]
			if v.Control || v.Lift == nil {
				continue
			}
			if v.ChanceToBeatControl != nil && *v.Lift >= e.ViabilityThreshold && *v.ChanceToBeatControl >= e.ViabilityMinChance {
				return Verdict{State: VerdictViable, Reason: fmt.Sprintf("variant %q lifts the human CTR by %+.1f%% over the control with a %.1f%% chance to beat it (needs %+.1f%% and %s)",
					v.Name, *v.Lift*100, *v.ChanceToBeatControl*100, e.ViabilityThreshold*100, percent(e.ViabilityMinChance))}
			}
			if best == nil || *v.Lift > *best.Lift {
				best = v
			}
		}
		if best == nil {
			return Verdict{State: VerdictUnknown, Reason: "the lift is undefined (the control has no human clicks yet)"}
		}
		if best.ChanceToBeatControl == nil {
			if *best.Lift >= e.ViabilityThreshold {
				return Verdict{State: VerdictUnknown, Reason: fmt.Sprintf("variant %q lifts the human CTR by %+.1f%%, but its chance to beat the control cannot be computed (an arm where nobody or everybody clicked)",
					best.Name, *best.Lift*100)}
			}
			return Verdict{State: VerdictNotViable, Reason: fmt.Sprintf("the best lift is %+.1f%% (variant %q), below the %+.1f%% the slice needs",
				*best.Lift*100, best.Name, e.ViabilityThreshold*100)}
		}
		return Verdict{State: VerdictNotViable, Reason: fmt.Sprintf("the best lift is %+.1f%% (variant %q) with a %.1f%% chance to beat the control; the slice needs %+.1f%% with %s",
			*best.Lift*100, best.Name, *best.ChanceToBeatControl*100, e.ViabilityThreshold*100, percent(e.ViabilityMinChance))}
	}
	return Verdict{State: VerdictUnknown, Reason: "unknown criterion " + e.ViabilityMetric}
}

// frequentistLiftVerdict judges a lift criterion by the frequentist engine:
// the lift must reach the threshold and be significant (p < 0.05,
// Holm-adjusted, with a lift interval above 0).
func frequentistLiftVerdict(e *Experiment, cands []VariantResult) Verdict {
	var best *VariantResult
	for i := range cands {
		v := &cands[i]
		if v.Control || v.Lift == nil {
			continue
		}
		ev := e.judge(*v, e.ViabilityMinChance)
		if ev.wins && *v.Lift >= e.ViabilityThreshold {
			return Verdict{State: VerdictViable, Reason: fmt.Sprintf("variant %q lifts the human CTR by %s, significant at p < 0.05 (needs %s)",
				v.Name, liftText(*v.Lift, v.LiftCI), pctText(e.ViabilityThreshold, true))}
		}
		if best == nil || *v.Lift > *best.Lift {
			best = v
		}
	}
	switch {
	case best == nil:
		return Verdict{State: VerdictUnknown, Reason: "the lift is undefined (the control has no human clicks yet)"}
	case best.PValue == nil:
		return Verdict{State: VerdictUnknown, Reason: fmt.Sprintf("variant %q lifts the human CTR by %s, but its significance cannot be computed (an arm where nobody or everybody clicked)",
			best.Name, pctText(*best.Lift, true))}
	}
	return Verdict{State: VerdictNotViable, Reason: fmt.Sprintf("the best lift is %s (variant %q), not a significant lift of %s or more at p < 0.05",
		liftText(*best.Lift, best.LiftCI), best.Name, pctText(e.ViabilityThreshold, true))}
}

// Verdict judges an experiment from the per-variant send and click counters
// (table variant_weekly) rather than from the deliveries, so that a weekly
// review of many large experiments stays fast. It agrees with Results.
func (s *Service) Verdict(ctx context.Context, teamID, id uuid.UUID) (Verdict, error) {
	var e Experiment
	if err := s.db.NewSelect().Model(&e).Where("id = ?", id).Where("team_id = ?", teamID).Scan(ctx); err != nil {
		return Verdict{}, fmt.Errorf("experiments: verdict of %s: %w", id, err)
	}
	var variants []*Variant
	if err := s.db.NewSelect().Model(&variants).Column("id", "name", "weight", "control").Where("experiment_id = ?", id).
		Order("position").Scan(ctx); err != nil {
		return Verdict{}, fmt.Errorf("experiments: verdict of %s: %w", id, err)
	}
	by, err := s.clicks.SendTotals(ctx, id)
	if err != nil {
		return Verdict{}, err
	}
	r := &Results{}
	for _, v := range variants {
		c := by[v.ID]
		r.Variants = append(r.Variants, VariantResult{ID: v.ID, Name: v.Name, Control: v.Control, Weight: v.Weight,
			Assigned: c.Sent, Sent: c.Sent, HumanClickers: c.Clicked})
	}
	r.fillStats()
	return verdict(&e, r), nil
}
