package stats

import (
	"math"
	"sort"

	"gonum.org/v1/gonum/stat/distuv"
)

// cleanP maps a p-value that is not a number in [0, 1] to 1 (conservative).
func cleanP(p float64) float64 {
	if !(p >= 0) || p > 1 {
		return 1
	}
	return p
}

// order returns the indices of p sorted by p (ascending, or descending),
// ties kept in input order.
func order(p []float64, desc bool) []int {
	idx := make([]int, len(p))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		if desc {
			return p[idx[a]] > p[idx[b]]
		}
		return p[idx[a]] < p[idx[b]]
	})
	return idx
}

// Holm returns the Holm–Bonferroni adjusted p-values in the input order:
// sorted ascending, p'(i) = min(1, p(i)·(m−i)) for 0-based rank i, made
// monotone by a running maximum (GrowthBook adjustPValuesHolmBonferroni).
// Values that are not in [0, 1] count as 1.
func Holm(p []float64) []float64 {
	m := len(p)
	out := make([]float64, m)
	if m == 0 {
		return out
	}
	q := make([]float64, m)
	for i, v := range p {
		q[i] = cleanP(v)
	}
	run := 0.0
	for rank, i := range order(q, false) {
		run = math.Max(run, math.Min(1, q[i]*float64(m-rank)))
		out[i] = run
	}
	return out
}

// BenjaminiHochberg returns the Benjamini–Hochberg adjusted p-values in the
// input order: sorted descending, p'(i) = min(1, p(i)·m/(m−i)) for 0-based
// rank i in that order, made monotone by a running minimum (GrowthBook
// adjustPValuesBenjaminiHochberg). Values that are not in [0, 1] count as 1.
func BenjaminiHochberg(p []float64) []float64 {
	m := len(p)
	out := make([]float64, m)
	if m == 0 {
		return out
	}
	q := make([]float64, m)
	for i, v := range p {
		q[i] = cleanP(v)
	}
	run := 1.0
	for rank, i := range order(q, true) {
		run = math.Min(run, math.Min(1, q[i]*float64(m)/float64(m-rank)))
		out[i] = run
	}
	return out
}

// AdjustedCI is GrowthBook's getAdjustedCI: the CI implied by an adjusted
// p-value, lift ± Φ⁻¹(1−α/2)·|lift/Φ⁻¹(1−pAdj/2)|, used only when it is
// wider than the unadjusted ci on both sides (otherwise ci is returned).
// When pAdj > 0.999999 the interval is unbounded: (−Inf, +Inf).
func AdjustedCI(pAdj, lift, alpha float64, ci [2]float64) (lo, hi float64) {
	if pAdj > 0.999999 || !checkAlpha(alpha) {
		return math.Inf(-1), math.Inf(1)
	}
	if lift == 0 || !(pAdj > 0) {
		return ci[0], ci[1]
	}
	z := distuv.UnitNormal.Quantile(1 - alpha/2)
	w := z * math.Abs(lift/distuv.UnitNormal.Quantile(1-pAdj/2))
	if lift-w < ci[0] && lift+w > ci[1] {
		return lift - w, lift + w
	}
	return ci[0], ci[1]
}
