package stats

import "math"

// Z95 is Φ⁻¹(0.975), the two-sided 95 % normal quantile.
const Z95 = 1.959963984540054

// Alpha is the default two-sided significance level (GrowthBook
// DEFAULT_P_VALUE_THRESHOLD).
const Alpha = 0.05

// Wilson returns the Wilson score interval for x successes out of n trials
// at normal quantile z (Z95 for 95 %). ok is false when n <= 0, x is outside
// [0, n] or z is not a positive finite number. The lower bound is exactly 0
// when x = 0 and the upper bound exactly 1 when x = n.
func Wilson(x, n int, z float64) (lo, hi float64, ok bool) {
	if n <= 0 || x < 0 || x > n || !(z > 0) || math.IsInf(z, 1) {
		return 0, 0, false
	}
	nf := float64(n)
	p := float64(x) / nf
	z2 := z * z
	den := 1 + z2/nf
	centre := (p + z2/(2*nf)) / den
	half := z * math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf)) / den
	lo = math.Max(0, centre-half)
	hi = math.Min(1, centre+half)
	if x == 0 {
		lo = 0
	}
	if x == n {
		hi = 1
	}
	return lo, hi, true
}
