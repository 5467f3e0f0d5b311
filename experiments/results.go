package experiments

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"slicelab/experiments/stats"
)

// VariantResult holds the per-variant counts and statistics of product.md §7.
// Statistical fields are nil until they can be computed (and always on the
// control for the comparison fields).
type VariantResult struct {
	ID                  uuid.UUID   `json:"id"`
	Name                string      `json:"name"`
	Control             bool        `json:"control"`
	Weight              float64     `json:"weight"`
	Assigned            int         `json:"assigned"`
	Sent                int         `json:"sent"`
	Failed              int         `json:"failed"`
	Suppressed          int         `json:"suppressed"`
	HumanClickers       int         `json:"human_clickers"`
	Clicks              int         `json:"clicks"`
	AutomatedClicks     int         `json:"automated_clicks"`
	CTR                 *float64    `json:"ctr"`
	CTRCI               *[2]float64 `json:"ctr_ci"`
	AbsoluteDiff        *float64    `json:"absolute_diff"`
	Lift                *float64    `json:"lift"`
	LiftCI              *[2]float64 `json:"lift_ci"`
	PValue              *float64    `json:"p_value"`
	PValueAdjusted      *float64    `json:"p_value_adjusted"` // Holm, over the treatments
	LiftCIAdjusted      *[2]float64 `json:"lift_ci_adjusted"`
	ChanceToBeatControl *float64    `json:"chance_to_beat_control"`
	ExpectedLoss        *float64    `json:"expected_loss"`
}

// SRM is the sample-ratio-mismatch check; nil p-values until the statistics land.
type SRM struct {
	AssignedPValue  *float64 `json:"assigned_p_value"`
	DeliveredPValue *float64 `json:"delivered_p_value"`
	Flag            bool     `json:"flag"`
}

// Verdict on the slice's viability.
type Verdict struct {
	State  string `json:"state"`
	Reason string `json:"reason"`
}

// Results is the answer of GET /api/v1/experiments/{id}/results.
type Results struct {
	ExperimentID uuid.UUID `json:"experiment_id"`
	Status       Status    `json:"status"`
	// Engine decides the winner, the verdict and the summary (the other
	// engine's figures stay in the variants under their own names).
	Engine string `json:"engine"`
	// Summary says in one sentence who is ahead and by how much, or how
	// much more data is needed, by the engine.
	Summary string `json:"summary"`
	SRM     SRM    `json:"srm"`
	Holdout struct {
		Assigned int `json:"assigned"`
	} `json:"holdout"`
	Variants []VariantResult `json:"variants"`
	Winner   *uuid.UUID      `json:"winner"`
	Verdict  Verdict         `json:"verdict"`
	// AsOf: the click counts hold every click recorded before this time
	// (clicks are classified and counted a moment after their redirect).
	AsOf *time.Time `json:"as_of"`
}

// Results counts an experiment's deliveries and clicks per variant. Only
// human clicks count towards clickers and CTR; automated ones are shown apart.
func (s *Service) Results(ctx context.Context, teamID, id uuid.UUID) (*Results, error) {
	e, err := s.load(ctx, teamID, id)
	if err != nil {
		return nil, err
	}
	return s.resultsOf(ctx, e)
}

// resultsOf computes the results of a loaded experiment.
func (s *Service) resultsOf(ctx context.Context, e *Experiment) (*Results, error) {
	id := e.ID
	counts, err := deliveryCounts(ctx, s.db, id)
	if err != nil {
		return nil, fmt.Errorf("experiments: results: %w", err)
	}
	// as_of first: the counts read after it hold at least what it promises.
	asOf, err := s.clicks.ClicksAsOf(ctx)
	if err != nil {
		return nil, err
	}
	clk, err := s.clicks.ClickCounts(ctx, id)
	if err != nil {
		return nil, err
	}
	r := &Results{ExperimentID: e.ID, Status: e.Status, Variants: make([]VariantResult, 0, len(e.Variants)), AsOf: &asOf}
	idx := map[uuid.UUID]int{}
	for _, v := range e.Variants {
		idx[v.ID] = len(r.Variants)
		r.Variants = append(r.Variants, VariantResult{ID: v.ID, Name: v.Name, Control: v.Control, Weight: v.Weight})
	}
	for _, d := range counts {
		if d.VariantID == nil { // the holdout, and contacts waiting for a test-then-winner's winner
			if d.Status == DeliveryHeldOut {
				r.Holdout.Assigned += d.N
			}
			continue
		}
		if i, ok := idx[*d.VariantID]; ok {
			vr := &r.Variants[i]
			vr.Assigned += d.N
			switch d.Status {
			case DeliverySent:
				vr.Sent += d.N
			case DeliveryFailed:
				vr.Failed += d.N
			case DeliverySuppressed:
				vr.Suppressed += d.N
			}
		}
	}
	for _, c := range clk {
		if i, ok := idx[c.VariantID]; ok {
			vr := &r.Variants[i]
			vr.HumanClickers, vr.Clicks, vr.AutomatedClicks = c.HumanClickers, c.Clicks, c.AutomatedClicks
		}
	}
	r.fillStats()
	r.Winner, _ = ruleWinner(e, r)
	if e.WinnerPickedAt != nil {
		r.Winner = e.WinnerVariantID
	}
	r.Verdict = verdict(e, r)
	r.Engine, r.Summary = e.engine(), summary(e, r)
	return r, nil
}

// fillStats computes per-arm CTR with its Wilson interval, the comparisons
// with the control, and the sample-ratio checks (product.md §7).
func (r *Results) fillStats() {
	ci := -1
	var treat []int
	var counts []stats.Count
	var weights []float64
	var assigned, delivered []int
	for i, v := range r.Variants {
		if v.Control {
			ci = i
		} else {
			treat = append(treat, i)
			counts = append(counts, stats.Count{Clicks: v.HumanClickers, N: v.Sent})
		}
		weights = append(weights, v.Weight)
		assigned = append(assigned, v.Assigned)
		delivered = append(delivered, v.Sent)
	}
	control := stats.Count{}
	if ci >= 0 {
		control = stats.Count{Clicks: r.Variants[ci].HumanClickers, N: r.Variants[ci].Sent}
	}
	cmp := stats.Compare(control, counts)
	if ci >= 0 {
		r.Variants[ci].CTR, r.Variants[ci].CTRCI = cmp.Control.Rate, cmp.Control.CI
	}
	for k, i := range treat {
		vs, vr := cmp.Variants[k], &r.Variants[i]
		vr.CTR, vr.CTRCI, vr.AbsoluteDiff, vr.Lift, vr.LiftCI = vs.Rate, vs.CI, vs.AbsoluteDiff, vs.Lift, vs.LiftCI
		vr.PValue, vr.PValueAdjusted, vr.LiftCIAdjusted = vs.PValue, vs.PValueAdjusted, vs.LiftCIAdjusted
		vr.ChanceToBeatControl, vr.ExpectedLoss = vs.ChanceToBeatControl, vs.ExpectedLoss
	}
	a, d := stats.SRMCheck(assigned, weights), stats.SRMCheck(delivered, weights)
	r.SRM = SRM{AssignedPValue: a.PValue, DeliveredPValue: d.PValue, Flag: a.Flag || d.Flag}
}
