package stats

import (
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// SRMThreshold is the p-value below which a sample-ratio mismatch is flagged
// (GrowthBook DEFAULT_SRM_THRESHOLD).
const SRMThreshold = 0.001

// SRM runs Pearson's χ² goodness-of-fit test of the observed arm counts
// against the configured weights (normalised to sum to 1):
// X² = Σ (O−E)²/E with E = w·N, df = k−1, p = P(χ²_df > X²).
//
// Arms with weight 0 expect nobody: they are left out of the test when they
// observed nobody, and if one of them did observe units the mismatch is
// total and SRM returns chi2 = +Inf, p = 0, ok = true.
//
// ok is false (and chi2 = 0, p = 1, which is what GrowthBook reports for
// these cases) when the slices differ in length, a count is negative, a
// weight is negative or not finite, the weights sum to 0, fewer than 2 arms
// take part or no unit was observed.
func SRM(observed []int, weights []float64) (chi2, p float64, ok bool) {
	if len(observed) != len(weights) {
		return 0, 1, false
	}
	total, wsum := 0, 0.0
	k := 0
	leak := false // a zero-weight arm has observations
	for i, o := range observed {
		w := weights[i]
		if o < 0 || !(w >= 0) || math.IsInf(w, 1) {
			return 0, 1, false
		}
		total += o
		wsum += w
		switch {
		case w > 0:
			k++
		case o > 0:
			k++
			leak = true
		}
	}
	if total == 0 || !(wsum > 0) || math.IsInf(wsum, 1) || k < 2 {
		return 0, 1, false
	}
	if leak {
		return math.Inf(1), 0, true
	}
	n := float64(total)
	for i, o := range observed {
		if weights[i] == 0 {
			continue
		}
		e := weights[i] / wsum * n
		d := float64(o) - e
		chi2 += d * d / e
	}
	p = distuv.ChiSquared{K: float64(k - 1)}.Survival(chi2)
	return chi2, math.Max(0, math.Min(1, p)), true
}

// SRMGrowthBook is GrowthBook's checkSrm (packages/back-end/src/util/stats.ts)
// for parity checks: arms with weight <= 0 are dropped whatever they
// observed, counts beyond the shorter slice are ignored, and the p-value is
// 1 when fewer than 2 arms remain or nobody was observed.
func SRMGrowthBook(observed []int, weights []float64) (chi2, p float64) {
	var obs []int
	var ws []float64
	for i := 0; i < len(observed) && i < len(weights); i++ {
		if weights[i] > 0 && !math.IsInf(weights[i], 1) && observed[i] >= 0 {
			obs = append(obs, observed[i])
			ws = append(ws, weights[i])
		}
	}
	chi2, p, ok := SRM(obs, ws)
	if !ok {
		return 0, 1
	}
	return chi2, p
}

// SRMFlag reports whether an SRM p-value signals a mismatch (p < 0.001).
func SRMFlag(p float64) bool { return p < SRMThreshold }

// SRMResult is the answer of "slicelab stats srm --format json". Chi2 and
// PValue are null when the test cannot run (see SRM); Chi2 is also null when
// a zero-weight arm received units (an infinite statistic, PValue 0).
type SRMResult struct {
	Chi2   *float64 `json:"chi2"`
	PValue *float64 `json:"p_value"`
	Flag   bool     `json:"flag"`
}

// SRMCheck runs SRM and packages it for JSON.
func SRMCheck(observed []int, weights []float64) SRMResult {
	chi2, p, ok := SRM(observed, weights)
	if !ok {
		return SRMResult{}
	}
	return SRMResult{Chi2: num(chi2), PValue: num(p), Flag: SRMFlag(p)}
}
