package stats

import (
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// Moments are the sufficient statistics of one arm as GrowthBook reduces
// them: the mean, the (per-unit) variance and the number of units.
type Moments struct {
	Mean float64
	Var  float64
	N    int
}

// ProportionMoments reduces x successes out of n to Moments with
// var = p(1−p), the population form without the n/(n−1) correction
// (gbstats ProportionStatistic). n <= 0 gives the zero Moments.
func ProportionMoments(x, n int) Moments {
	if n <= 0 {
		return Moments{}
	}
	p := float64(x) / float64(n)
	return Moments{Mean: p, Var: p * (1 - p), N: n}
}

// SampleMeanMoments reduces a sum and a sum of squares over n units to
// Moments with the unbiased variance (Σy² − (Σy)²/n)/(n−1), and var = 0 when
// n <= 1 (gbstats SampleMeanStatistic).
func SampleMeanMoments(sum, sumSquares float64, n int) Moments {
	if n <= 0 {
		return Moments{}
	}
	nf := float64(n)
	m := Moments{Mean: sum / nf, N: n}
	if n > 1 {
		m.Var = (sumSquares - sum*sum/nf) / (nf - 1)
	}
	return m
}

// TTestResult is the outcome of GrowthBook's two-sided Welch t-test.
type TTestResult struct {
	Estimate float64    // relative lift (μT−μC)/|μC|, or μT−μC when absolute
	SE       float64    // standard error of Estimate (delta method if relative)
	DF       float64    // Welch–Satterthwaite degrees of freedom
	T        float64    // Estimate / SE
	PValue   float64    // two-sided
	CI       [2]float64 // Estimate ± t_DF(1−α/2)·SE
}

// BayesResult is the outcome of GrowthBook's Gaussian effect model with the
// improper (flat) prior: the posterior of the effect is N(Mean, SD²).
type BayesResult struct {
	Mean        float64
	SD          float64
	ChanceToWin float64    // P(effect > 0) = Φ(Mean/SD)
	CI          [2]float64 // equal-tailed credible interval
	// Risk[0] = E[max(effect, 0)], the expected loss of keeping the control;
	// Risk[1] = E[max(−effect, 0)], the expected loss of shipping the variant
	// (what the results call expected_loss).
	Risk [2]float64
}

// effectMoments returns GrowthBook's point estimate and variance of the
// effect of variant over control (gbstats EffectMoments), ok = false where
// GrowthBook returns its default output (a variance <= 0, a zero control
// mean) or where Welch's degrees of freedom are undefined (n <= 1).
func effectMoments(c, v Moments, relative bool) (est, variance float64, ok bool) {
	if c.N < 2 || v.N < 2 || !(c.Var > 0) || !(v.Var > 0) || c.Mean == 0 ||
		!finite(c.Mean) || !finite(v.Mean) || !finite(c.Var) || !finite(v.Var) {
		return 0, 0, false
	}
	nc, nv := float64(c.N), float64(v.N)
	if relative {
		mc2 := c.Mean * c.Mean
		est = (v.Mean - c.Mean) / math.Abs(c.Mean)
		variance = v.Var/(mc2*nv) + c.Var*v.Mean*v.Mean/(mc2*mc2*nc)
	} else {
		est = v.Mean - c.Mean
		variance = v.Var/nv + c.Var/nc
	}
	if !(variance > 0) || !finite(variance) || !finite(est) {
		return 0, 0, false
	}
	return est, variance, true
}

// welchDF is the Welch–Satterthwaite degrees of freedom on the raw
// per-arm variances (also for the relative test, as GrowthBook does).
func welchDF(c, v Moments) float64 {
	nc, nv := float64(c.N), float64(v.N)
	a, b := v.Var/nv, c.Var/nc
	return (a + b) * (a + b) / (a*a/(nv-1) + b*b/(nc-1))
}

// studentT is the standard Student t distribution with df degrees of
// freedom. Beyond 1e8 degrees of freedom it is the standard normal: the two
// then differ by less than 1e-8, while gonum's incomplete-beta inversion
// starts losing digits (about 1e-7 relative at 1e9).
func studentT(df float64) interface {
	Survival(float64) float64
	Quantile(float64) float64
} {
	if df > 1e8 {
		return distuv.UnitNormal
	}
	return distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}
}

func checkAlpha(alpha float64) bool { return alpha > 0 && alpha < 1 }

// WelchTTest compares variant v to control c as GrowthBook's frequentist
// engine does (TwoSidedTTest): relative lift with a delta-method variance,
// or the absolute difference, Welch–Satterthwaite degrees of freedom, a
// two-sided Student-t p-value and a 1−alpha confidence interval. ok is false
// where the comparison is undefined (see effectMoments) or alpha is not in
// (0, 1).
func WelchTTest(c, v Moments, relative bool, alpha float64) (TTestResult, bool) {
	est, variance, ok := effectMoments(c, v, relative)
	if !ok || !checkAlpha(alpha) {
		return TTestResult{}, false
	}
	df := welchDF(c, v)
	if !(df > 0) || !finite(df) {
		return TTestResult{}, false
	}
	se := math.Sqrt(variance)
	stat := est / se
	p := math.Min(1, 2*studentT(df).Survival(math.Abs(stat)))
	w := studentT(df).Quantile(1-alpha/2) * se
	r := TTestResult{Estimate: est, SE: se, DF: df, T: stat, PValue: p, CI: [2]float64{est - w, est + w}}
	if !finite(r.PValue) || !finite(r.CI[0]) || !finite(r.CI[1]) {
		return TTestResult{}, false
	}
	return r, true
}

// BayesTest compares variant v to control c as GrowthBook's Bayesian engine
// does with its default improper prior: the posterior of the effect
// (relative lift, or absolute difference) is normal with the frequentist
// point estimate as mean and its standard error as standard deviation.
// ok is false where the comparison is undefined or alpha is not in (0, 1).
func BayesTest(c, v Moments, relative bool, alpha float64) (BayesResult, bool) {
	m, variance, ok := effectMoments(c, v, relative)
	if !ok || !checkAlpha(alpha) {
		return BayesResult{}, false
	}
	s := math.Sqrt(variance)
	z := distuv.UnitNormal.Quantile(1 - alpha/2)
	r := m / s
	pdf := distuv.UnitNormal.Prob(r)
	res := BayesResult{
		Mean:        m,
		SD:          s,
		ChanceToWin: distuv.UnitNormal.CDF(r),
		CI:          [2]float64{m - z*s, m + z*s},
		Risk: [2]float64{
			math.Max(0, m*distuv.UnitNormal.CDF(r)+s*pdf),
			math.Max(0, -m*distuv.UnitNormal.CDF(-r)+s*pdf),
		},
	}
	return res, true
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// num returns a pointer to x, or nil when x is NaN or infinite, so that
// JSON never carries a value it cannot encode.
func num(x float64) *float64 {
	if !finite(x) {
		return nil
	}
	return &x
}

func pair(lo, hi float64) *[2]float64 {
	if !finite(lo) || !finite(hi) {
		return nil
	}
	return &[2]float64{lo, hi}
}
