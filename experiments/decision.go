package experiments

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"slicelab/experiments/stats"
)

// Every experiment decides with one statistical engine (product.md §7): its
// winner rule, its viability verdict and its summary use that engine only,
// so they never contradict each other. The other engine's figures stay in
// the results under their own names.
const (
	// EngineBayesian (the default, as in GrowthBook): a variant wins with a
	// chance to beat the control of at least the minimum (95 % by default).
	EngineBayesian = "bayesian"
	// EngineFrequentist: a variant wins with p < 0.05 (Holm-adjusted when
	// there are several variants) and a lift interval above 0.
	EngineFrequentist = "frequentist"
)

// PlannedEffect is the relative effect that the summary's "how much more
// data" answer plans for: a 10 % lift, with 80 % power at alpha 0.05.
const PlannedEffect = 0.10

// evidence is what one engine says about one variant against the control.
type evidence struct {
	wins  bool    // the variant beats the control by the engine's rule
	loses bool    // the control beats the variant by the engine's rule
	rank  float64 // orders variants: the chance to beat (Bayesian) or the lift (frequentist)
	ok    bool    // the engine could judge the variant at all
}

// judge applies the experiment's engine to a variant; minChance is the
// Bayesian threshold of the rule at hand (winner or viability).
func (e *Experiment) judge(v VariantResult, minChance float64) evidence {
	if v.Control {
		return evidence{}
	}
	if e.engine() == EngineFrequentist {
		p, ci := v.PValueAdjusted, v.LiftCIAdjusted
		if p == nil {
			p = v.PValue
		}
		if ci == nil && v.PValueAdjusted != nil && v.PValue != nil && *v.PValueAdjusted == *v.PValue {
			ci = v.LiftCI // one variant: no adjustment
		}
		if p == nil || v.Lift == nil {
			return evidence{}
		}
		sig := *p < stats.Alpha && ci != nil
		return evidence{wins: sig && ci[0] > 0, loses: sig && ci[1] < 0, rank: *v.Lift, ok: true}
	}
	if v.ChanceToBeatControl == nil {
		return evidence{}
	}
	c := *v.ChanceToBeatControl
	return evidence{wins: c >= minChance, loses: c <= 1-minChance, rank: c, ok: true}
}

// engine is the experiment's engine, Bayesian when unset.
func (e *Experiment) engine() string {
	if e.Engine == EngineFrequentist {
		return EngineFrequentist
	}
	return EngineBayesian
}

// pctText writes a fraction as a percentage for people: "97 %", "4.2 %",
// "0.35 %", "+30 %" (signed), "−2 %", with a real minus sign.
func pctText(x float64, signed bool) string {
	v := x * 100
	digits := 0
	switch a := math.Abs(v); {
	case a == 0:
	case a < 1:
		digits = 2
	case a < 10:
		digits = 1
	}
	s := strconv.FormatFloat(math.Abs(v), 'f', digits, 64)
	if digits > 0 {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	switch {
	case v < 0 && s != "0":
		s = "−" + s
	case signed && s != "0":
		s = "+" + s
	}
	return s + " %"
}

// chanceText writes a probability without claiming certainty: ">99 %", "<1 %".
func chanceText(p float64) string {
	switch {
	case p >= 0.995:
		return ">99 %"
	case p < 0.005:
		return "<1 %"
	}
	return strconv.FormatFloat(math.Round(p*100), 'f', 0, 64) + " %"
}

// liftText is a relative lift with its interval in words, e.g.
// "+30 % CTR (−2 % to +66 %)". A lower end below −100 % (the delta method
// allows it; a rate cannot fall by more than all of it) is said as such.
func liftText(lift float64, ci *[2]float64) string {
	s := pctText(lift, true) + " CTR"
	if ci == nil {
		return s
	}
	if ci[0] <= -1 {
		return s + " (could be as low as −100 %, or as high as " + pctText(ci[1], true) + ")"
	}
	return s + " (" + pctText(ci[0], true) + " to " + pctText(ci[1], true) + ")"
}

// countText writes a count with thousands separators: 1,200.
func countText(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// plannedPerArm is the sample per arm that detects PlannedEffect at the
// control's rate (5 % when it has none yet), rounded up.
func plannedPerArm(control *VariantResult) (int, bool) {
	rate := 0.05
	if control != nil && control.CTR != nil && *control.CTR > 0 && *control.CTR < 1 {
		rate = *control.CTR
	}
	n, ok := stats.SampleSizePerArm(rate, rate*(1-rate), PlannedEffect, stats.Alpha, stats.TargetPower)
	if !ok || n > 1e9 {
		return 0, false
	}
	return int(math.Ceil(n)), true
}

// summary says in one sentence what the results mean, by the experiment's
// engine: who is ahead and by how much, or that there is not enough data yet
// and how much more is needed.
func summary(e *Experiment, r *Results) string {
	var control *VariantResult
	var treatments []VariantResult
	least, sent := -1, 0
	for i := range r.Variants {
		v := &r.Variants[i]
		if v.Control {
			control = v
		} else if v.Weight > 0 {
			treatments = append(treatments, *v)
		}
		if v.Weight > 0 && (least < 0 || v.Sent < least) {
			least = v.Sent
		}
		sent += v.Sent
	}
	switch {
	case sent == 0:
		return "nothing sent yet"
	case control == nil:
		return "there is no control to compare with"
	case len(treatments) == 0:
		if control.CTR == nil {
			return "only one variant: no clicks to report yet"
		}
		return fmt.Sprintf("only one variant: %s CTR of %s delivered", pctText(*control.CTR, false), countText(control.Sent))
	}
	needed := "" // how far from a sample that detects the planned effect
	if planned, ok := plannedPerArm(control); ok && least < planned {
		needed = fmt.Sprintf("%s of the %s per arm needed for a %s effect", countText(least), countText(planned), pctText(PlannedEffect, false))
	}
	if least < e.WinnerMinPerArm {
		if needed == "" {
			needed = fmt.Sprintf("%s of the %s deliveries per arm a decision needs", countText(least), countText(e.WinnerMinPerArm))
		}
		return "not enough data yet: " + needed
	}
	if needed != "" {
		needed = "; " + needed
	}
	var best *VariantResult
	var bestEv evidence
	for i := range treatments {
		v := &treatments[i]
		ev := e.judge(*v, e.WinnerMinChance)
		if ev.ok && (best == nil || ev.rank > bestEv.rank) {
			best, bestEv = v, ev
		}
	}
	if best == nil {
		return "no comparison is possible yet: an arm where nobody or everybody clicked" + needed
	}
	detail := func(v *VariantResult) string {
		if e.engine() == EngineFrequentist {
			p := v.PValueAdjusted
			if p == nil {
				p = v.PValue
			}
			ci := v.LiftCIAdjusted
			if ci == nil {
				ci = v.LiftCI
			}
			return fmt.Sprintf("%s, p = %s", liftText(*v.Lift, ci), strconv.FormatFloat(*p, 'g', 2, 64))
		}
		s := chanceText(*v.ChanceToBeatControl) + " chance to beat control"
		if v.Lift != nil {
			s += ", " + liftText(*v.Lift, v.LiftCI)
		}
		return s
	}
	switch {
	case bestEv.wins:
		return fmt.Sprintf("%s is ahead: %s", best.Name, detail(best))
	case allLose(e, treatments):
		return fmt.Sprintf("%s (the control) is ahead: the best variant, %s, has %s", control.Name, best.Name, detail(best))
	}
	rule := fmt.Sprintf("needs %s", chanceText(e.WinnerMinChance))
	if e.engine() == EngineFrequentist {
		rule = "needs p < 0.05 with an interval above 0"
	}
	return fmt.Sprintf("no winner yet: the best, %s, has %s (%s)%s", best.Name, detail(best), rule, needed)
}

// allLose tells whether the control beats every variant by the engine.
func allLose(e *Experiment, treatments []VariantResult) bool {
	for _, v := range treatments {
		if !e.judge(v, e.WinnerMinChance).loses {
			return false
		}
	}
	return len(treatments) > 0
}
