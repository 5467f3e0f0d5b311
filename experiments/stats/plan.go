package stats

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// TargetPower is the power the planner aims for (GrowthBook's 0.8).
const TargetPower = 0.8

// MaxPlanWeeks bounds the planning horizon (ten years).
const MaxPlanWeeks = 520

// ArgumentError reports a bad argument to Plan; Name is the argument
// ("baseline", "mde", "weekly", "arms", "weeks").
type ArgumentError struct {
	Name   string
	Reason string
}

func (e *ArgumentError) Error() string { return "stats: " + e.Name + " " + e.Reason }

// relSE is GrowthBook's powerStandardError for a relative effect: the
// delta-method standard error of the lift with n units per arm, control mean
// mean, treatment mean mean·(1+effect) and the same variance in both arms.
func relSE(mean, variance, effect, nPerArm float64) float64 {
	mt := mean * (1 + effect)
	m2 := mean * mean
	return math.Sqrt(variance/(m2*nPerArm) + variance*mt*mt/(m2*m2*nPerArm))
}

// Power is GrowthBook's powerEstFrequentist (fixed horizon, two-sided): the
// probability of detecting a relative effect with nPerArm units per arm for
// a metric of the given mean and per-unit variance (p(1−p) for a rate):
// 1 − Φ(z* − e/SE) + Φ(−z* − e/SE), z* = Φ⁻¹(1 − alpha/2). It returns 0 for
// arguments outside their domain.
func Power(mean, variance, effect, nPerArm, alpha float64) float64 {
	if !(mean != 0) || !(variance > 0) || !(nPerArm > 0) || !checkAlpha(alpha) || !finite(effect) ||
		!finite(mean) || !finite(variance) || math.IsInf(nPerArm, 1) {
		return 0
	}
	zs := distuv.UnitNormal.Quantile(1 - alpha/2)
	d := effect / relSE(mean, variance, effect, nPerArm)
	p := distuv.UnitNormal.Survival(zs-d) + distuv.UnitNormal.CDF(-zs-d)
	return math.Max(0, math.Min(1, p))
}

// MDE is GrowthBook's findMdeFrequentist: the smallest relative effect
// detectable with the given power by nPerArm units per arm, from the
// quadratic (1 − z²σ²/m²)x² − 2mx + m² − z²σ² = 0 with
// z = Φ⁻¹(1−alpha/2) − Φ⁻¹(1−power), σ² = variance/nPerArm, MDE = (x−m)/m.
// ok is false where GrowthBook reports an error: power <= alpha, or too few
// units (nPerArm <= variance·z²/m²), or arguments outside their domain.
func MDE(mean, variance, nPerArm, alpha, power float64) (float64, bool) {
	if !(mean != 0) || !(variance > 0) || !(nPerArm > 0) || !checkAlpha(alpha) ||
		!(power > alpha) || !(power < 1) || !finite(mean) || !finite(variance) || math.IsInf(nPerArm, 1) {
		return 0, false
	}
	z := distuv.UnitNormal.Quantile(1-alpha/2) - distuv.UnitNormal.Quantile(1-power)
	m := mean
	if nPerArm <= variance*z*z/(m*m) {
		return 0, false
	}
	s2 := variance / nPerArm
	a := 1 - z*z*s2/(m*m)
	b := -2 * m
	c := m*m - z*z*s2
	x := (-b + math.Sqrt(b*b-4*a*c)) / (2 * a)
	e := (x - m) / m
	return e, finite(e)
}

// SampleSizePerArm is the number of units per arm at which MDE equals the
// relative effect, i.e. the inverse of MDE:
// n = z²·variance·(1 + (1+effect)²)/(mean²·effect²),
// z = Φ⁻¹(1−alpha/2) − Φ⁻¹(1−power). Not rounded; ok is false for arguments
// outside their domain (effect must be > 0).
func SampleSizePerArm(mean, variance, effect, alpha, power float64) (float64, bool) {
	if !(mean != 0) || !(variance > 0) || !(effect > 0) || !checkAlpha(alpha) ||
		!(power > alpha) || !(power < 1) || !finite(mean) || !finite(variance) || !finite(effect) {
		return 0, false
	}
	z := distuv.UnitNormal.Quantile(1-alpha/2) - distuv.UnitNormal.Quantile(1-power)
	r := 1 + effect
	n := z * z * variance * (1 + r*r) / (mean * mean * effect * effect)
	return n, finite(n)
}

// PlanWeek is one week of "stats plan": the power reached by then for the
// planned MDE and the MDE reachable with 80 % power (null while there are
// too few users for any effect).
type PlanWeek struct {
	Week  int      `json:"week"`
	Power float64  `json:"power"`
	MDE   *float64 `json:"mde"`
}

// PlanResult is the answer of "slicelab stats plan --format json".
type PlanResult struct {
	NPerArm *int       `json:"n_per_arm"`
	Weeks   []PlanWeek `json:"weeks"`
}

// Plan forecasts an experiment on a rate week by week as GrowthBook's power
// tool does (frequentist, fixed horizon, alpha 0.05 two-sided, power 0.8):
// weekly users split evenly over arms, so week w has weekly·w/arms users per
// arm. NPerArm is the per-arm sample size needed to detect the relative mde
// with 80 % power, rounded up. The error, an *ArgumentError, names the bad
// argument: baseline not in (0, 1), mde <= 0, weekly < 1, arms < 2, weeks
// not in [1, 520].
func Plan(baseline, mde float64, weekly, arms, weeks int) (PlanResult, error) {
	switch {
	case !(baseline > 0 && baseline < 1):
		return PlanResult{}, &ArgumentError{"baseline", fmt.Sprintf("must be a rate in (0, 1), got %v", baseline)}
	case !(mde > 0) || math.IsInf(mde, 1):
		return PlanResult{}, &ArgumentError{"mde", fmt.Sprintf("must be a relative effect > 0, got %v", mde)}
	case weekly < 1:
		return PlanResult{}, &ArgumentError{"weekly", fmt.Sprintf("must be at least 1 user per week, got %d", weekly)}
	case arms < 2:
		return PlanResult{}, &ArgumentError{"arms", fmt.Sprintf("must be at least 2 (control and a variant), got %d", arms)}
	case weeks < 1 || weeks > MaxPlanWeeks:
		return PlanResult{}, &ArgumentError{"weeks", fmt.Sprintf("must be between 1 and %d, got %d", MaxPlanWeeks, weeks)}
	}
	v := baseline * (1 - baseline)
	res := PlanResult{Weeks: make([]PlanWeek, weeks)}
	if n, ok := SampleSizePerArm(baseline, v, mde, Alpha, TargetPower); ok && n < 1<<53 {
		ni := int(math.Ceil(n))
		res.NPerArm = &ni
	}
	for w := 1; w <= weeks; w++ {
		nA := float64(weekly) * float64(w) / float64(arms)
		pw := PlanWeek{Week: w, Power: Power(baseline, v, mde, nA, Alpha)}
		if e, ok := MDE(baseline, v, nA, Alpha, TargetPower); ok {
			pw.MDE = num(e)
		}
		res.Weeks[w-1] = pw
	}
	return res, nil
}
