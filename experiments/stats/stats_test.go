package stats

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

// approx fails unless got equals want to the given number of significant
// digits, i.e. |got − want| <= half a unit in the last stated digit of want.
func approx(t *testing.T, label string, got, want float64, digits int) {
	t.Helper()
	if math.IsNaN(got) || math.IsInf(got, 0) {
		t.Errorf("%s = %v, want %v", label, got, want)
		return
	}
	var tol float64
	if want == 0 {
		tol = 0.5 * math.Pow(10, -float64(digits))
	} else {
		tol = 0.5 * math.Pow(10, math.Floor(math.Log10(math.Abs(want)))-float64(digits)+1)
	}
	if math.Abs(got-want) > tol*(1+1e-9) {
		t.Errorf("%s = %.10g, want %.10g (to %d significant digits)", label, got, want, digits)
	}
}

func ptr(t *testing.T, label string, p *float64) float64 {
	t.Helper()
	if p == nil {
		t.Fatalf("%s is nil, want a value", label)
	}
	return *p
}

// KAT-1 (research-stats.md §3): Wilson 95 % intervals from Newcombe 1998,
// Stat Med 17:857, Table I, method 3 (score interval without continuity
// correction).
func TestWilsonKnownAnswers(t *testing.T) {
	cases := []struct {
		x, n   int
		lo, hi float64
		digits int
	}{
		{81, 263, 0.25529, 0.36621, 5},  // Newcombe 1998 method 3, example (a)
		{15, 148, 0.062386, 0.16049, 5}, // Newcombe 1998 method 3, example (b)
		{0, 20, 0, 0.16113, 5},          // Newcombe 1998 method 3, example (c)
		{1, 29, 0.0061132, 0.17176, 5},  // Newcombe 1998 method 3, example (d)
	}
	for _, c := range cases {
		lo, hi, ok := Wilson(c.x, c.n, Z95)
		if !ok {
			t.Fatalf("Wilson(%d, %d) not ok", c.x, c.n)
		}
		approx(t, "lo", lo, c.lo, c.digits)
		approx(t, "hi", hi, c.hi, c.digits)
	}
}

func TestWilsonEdges(t *testing.T) {
	cases := []struct {
		name   string
		x, n   int
		z      float64
		ok     bool
		lo, hi float64 // checked exactly when exact
		exact  [2]bool
	}{
		{name: "n zero", x: 0, n: 0, z: Z95},
		{name: "n negative", x: 0, n: -3, z: Z95},
		{name: "x above n", x: 5, n: 4, z: Z95},
		{name: "x negative", x: -1, n: 4, z: Z95},
		{name: "z zero", x: 1, n: 4, z: 0},
		{name: "z NaN", x: 1, n: 4, z: math.NaN()},
		{name: "no successes: lower bound exactly 0", x: 0, n: 7, z: Z95, ok: true, lo: 0, exact: [2]bool{true, false}},
		{name: "all successes: upper bound exactly 1", x: 7, n: 7, z: Z95, ok: true, hi: 1, exact: [2]bool{false, true}},
		{name: "n = 1, x = 1", x: 1, n: 1, z: Z95, ok: true, hi: 1, exact: [2]bool{false, true}},
		{name: "n = 1, x = 0", x: 0, n: 1, z: Z95, ok: true, lo: 0, exact: [2]bool{true, false}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lo, hi, ok := Wilson(c.x, c.n, c.z)
			if ok != c.ok {
				t.Fatalf("ok = %v, want %v", ok, c.ok)
			}
			if !ok {
				return
			}
			if lo < 0 || hi > 1 || lo > hi {
				t.Errorf("interval [%v, %v] not inside [0, 1]", lo, hi)
			}
			if c.exact[0] && lo != c.lo {
				t.Errorf("lo = %v, want exactly %v", lo, c.lo)
			}
			if c.exact[1] && hi != c.hi {
				t.Errorf("hi = %v, want exactly %v", hi, c.hi)
			}
		})
	}
}

// KAT-4 (research-stats.md §3): GrowthBook frequentist engine, source
// growthbook/growthbook packages/stats/tests/frequentist/test_tests.py.
func TestFrequentistKnownAnswers(t *testing.T) {
	t.Run("binomial 14/28 vs 16/30, relative", func(t *testing.T) {
		// GB packages/stats/tests/frequentist/test_tests.py (binomial case)
		r, ok := WelchTTest(ProportionMoments(14, 28), ProportionMoments(16, 30), true, Alpha)
		if !ok {
			t.Fatal("not ok")
		}
		approx(t, "lift", r.Estimate, 0.066667, 5)
		approx(t, "SE", r.SE, 0.27170, 5)
		approx(t, "CI lo", r.CI[0], -0.47767, 5)
		approx(t, "CI hi", r.CI[1], 0.61101, 5)
		approx(t, "p", r.PValue, 0.80707, 5)
		approx(t, "dof", r.DF, 55.71, 4)
	})
	// Σ = 1396.87, Σ² = 52377.9767, n = 3407 is mean 0.41, sd 3.9; the
	// treatment is mean 0.70, sd 6.2, n = 3461.
	ctrl := SampleMeanMoments(1396.87, 52377.9767, 3407)
	trt := SampleMeanMoments(2422.7, 134698.29, 3461)
	t.Run("sample mean, relative", func(t *testing.T) {
		// GB packages/stats/tests/frequentist/test_tests.py test_two_sided_ttest
		r, ok := WelchTTest(ctrl, trt, true, Alpha)
		if !ok {
			t.Fatal("not ok")
		}
		approx(t, "lift", r.Estimate, 0.70732, 5)
		approx(t, "SE", r.SE, 0.37879, 5)
		approx(t, "CI lo", r.CI[0], -0.03526, 4)
		approx(t, "CI hi", r.CI[1], 1.44989, 6)
		approx(t, "p", r.PValue, 0.06191, 4)
	})
	t.Run("sample mean, absolute", func(t *testing.T) {
		// GB packages/stats/tests/frequentist/test_tests.py (absolute variant)
		r, ok := WelchTTest(ctrl, trt, false, Alpha)
		if !ok {
			t.Fatal("not ok")
		}
		approx(t, "diff", r.Estimate, 0.29, 2)
		approx(t, "SE", r.SE, 0.12478, 5)
		approx(t, "p", r.PValue, 0.02016, 4)
	})
	t.Run("through Compare", func(t *testing.T) {
		// same binomial vector as above, via the JSON-ready API
		res := Compare(Count{Clicks: 14, N: 28}, []Count{{Clicks: 16, N: 30}})
		v := res.Variants[0]
		approx(t, "lift", ptr(t, "lift", v.Lift), 0.066667, 5)
		if v.LiftCI == nil {
			t.Fatal("lift_ci nil")
		}
		approx(t, "CI lo", v.LiftCI[0], -0.47767, 5)
		approx(t, "CI hi", v.LiftCI[1], 0.61101, 5)
		approx(t, "p", ptr(t, "p_value", v.PValue), 0.80707, 5)
		approx(t, "absolute diff", ptr(t, "absolute_diff", v.AbsoluteDiff), 16.0/30-0.5, 12)
		// one variant: the Holm family has one member, adjustment is the identity
		if ptr(t, "p_value_adjusted", v.PValueAdjusted) != *v.PValue {
			t.Errorf("adjusted p %v != p %v with one variant", *v.PValueAdjusted, *v.PValue)
		}
		if v.LiftCIAdjusted == nil || *v.LiftCIAdjusted != *v.LiftCI {
			t.Errorf("adjusted CI %v != CI %v with one variant", v.LiftCIAdjusted, v.LiftCI)
		}
	})
}

// GrowthBook uses the population variance p(1−p) for proportions, not the
// sample variance with n/(n−1) (gbstats models/statistics.py).
func TestProportionVarianceConvention(t *testing.T) {
	m := ProportionMoments(3, 10)
	if m.Mean != 0.3 || math.Abs(m.Var-0.21) > 1e-15 || m.N != 10 {
		t.Errorf("ProportionMoments(3, 10) = %+v, want mean 0.3, var 0.21", m)
	}
	if (ProportionMoments(3, 0) != Moments{}) {
		t.Error("n = 0 should give zero Moments")
	}
	if s := SampleMeanMoments(5, 25, 1); s.Var != 0 {
		t.Errorf("n = 1 sample variance = %v, want 0", s.Var)
	}
}

// KAT-6 (research-stats.md §3): GrowthBook Bayesian engine (Gaussian lift
// model, improper prior), source growthbook/growthbook
// packages/stats/tests/bayesian/test_tests.py.
func TestBayesianKnownAnswers(t *testing.T) {
	// GB packages/stats/tests/bayesian/test_tests.py: 49/100 vs 51/100
	b, ok := BayesTest(ProportionMoments(49, 100), ProportionMoments(51, 100), true, Alpha)
	if !ok {
		t.Fatal("not ok")
	}
	approx(t, "mean", b.Mean, 0.040816, 5)
	approx(t, "sd", b.SD, 0.147253, 6)
	approx(t, "chance to win", b.ChanceToWin, 0.60918, 5)
	approx(t, "CrI lo", b.CI[0], -0.24779, 5)
	approx(t, "CrI hi", b.CI[1], 0.32943, 5)
	approx(t, "risk[0]", b.Risk[0], 0.081396, 5)
	approx(t, "risk[1]", b.Risk[1], 0.040580, 5)

	// the same vector via Compare: chance to beat control and expected loss
	res := Compare(Count{Clicks: 49, N: 100}, []Count{{Clicks: 51, N: 100}})
	v := res.Variants[0]
	approx(t, "chance_to_beat_control", ptr(t, "ctbc", v.ChanceToBeatControl), 0.60918, 5)
	approx(t, "expected_loss", ptr(t, "expected_loss", v.ExpectedLoss), 0.040580, 5)
}

func TestBayesExtremes(t *testing.T) {
	// |m/s| far beyond 37 (GrowthBook short-circuits the truncated normal
	// there): the closed forms must give the limits, never NaN.
	for _, c := range []struct {
		ctrl, trt Count
		win       float64
	}{
		{Count{1000, 1000000}, Count{900000, 1000000}, 1},
		{Count{900000, 1000000}, Count{1000, 1000000}, 0},
	} {
		b, ok := BayesTest(ProportionMoments(c.ctrl.Clicks, c.ctrl.N), ProportionMoments(c.trt.Clicks, c.trt.N), true, Alpha)
		if !ok {
			t.Fatal("not ok")
		}
		if b.ChanceToWin != c.win {
			t.Errorf("chance to win %v, want %v", b.ChanceToWin, c.win)
		}
		if c.win == 1 && (b.Risk[1] > 1e-12 || math.Abs(b.Risk[0]-b.Mean) > 1e-9*b.Mean) {
			t.Errorf("risk %v, want [mean, 0] with mean %v", b.Risk, b.Mean)
		}
		if c.win == 0 && (b.Risk[0] > 1e-12 || math.Abs(b.Risk[1]+b.Mean) > 1e-9) {
			t.Errorf("risk %v, want [0, -mean] with mean %v", b.Risk, b.Mean)
		}
	}
}

// KAT-3 (research-stats.md §3): SRM χ² vectors from growthbook/growthbook
// packages/back-end/test/stats.test.ts (checkSrm).
func TestSRMKnownAnswers(t *testing.T) {
	cases := []struct {
		obs    []int
		w      []float64
		gbP    float64 // GrowthBook's expected p-value
		digits int
		ourP   float64 // SRM's p where it deliberately differs (see wantOK)
		ourOK  bool
		differ bool
	}{
		// GB stats.test.ts: [1000,1200] w [.5,.5]
		{[]int{1000, 1200}, []float64{.5, .5}, 2.0079e-5, 5, 0, true, false},
		// GB stats.test.ts: [135,115] w [.5,.5]
		{[]int{135, 115}, []float64{.5, .5}, 0.205903211, 9, 0, true, false},
		// GB stats.test.ts: [310,98] w [.75,.25]
		{[]int{310, 98}, []float64{.75, .25}, 0.647434186, 9, 0, true, false},
		// GB stats.test.ts: [1000,1200,900] w [.5,.5,0]. GrowthBook drops the
		// zero-weight arm; our SRM treats 900 units in an arm that should get
		// nobody as a total mismatch (p = 0), per the slicelab spec.
		{[]int{1000, 1200, 900}, []float64{.5, .5, 0}, 2.0079e-5, 5, 0, true, true},
		// GB stats.test.ts: [0,10,10] w [.34,.33,.33]
		{[]int{0, 10, 10}, []float64{.34, .33, .33}, 0.005790624, 7, 0, true, false},
		// GB stats.test.ts: [500,500,600] w [.34,.33,.33]
		{[]int{500, 500, 600}, []float64{.34, .33, .33}, 0.000592638, 6, 0, true, false},
		// GB stats.test.ts: [500,500] w [.5,.5]
		{[]int{500, 500}, []float64{.5, .5}, 1, 9, 0, true, false},
		// GB stats.test.ts: [1000] w [.5,.5] — one arm left: no test (p = 1)
		{[]int{1000}, []float64{.5, .5}, 1, 9, 1, false, true},
		// GB stats.test.ts: [0,0,0] — nobody observed: no test (p = 1)
		{[]int{0, 0, 0}, []float64{.34, .33, .33}, 1, 9, 1, false, true},
	}
	for _, c := range cases {
		_, gp := SRMGrowthBook(c.obs, c.w)
		approx(t, "SRMGrowthBook p", gp, c.gbP, c.digits)
		_, p, ok := SRM(c.obs, c.w)
		if ok != c.ourOK {
			t.Errorf("SRM(%v, %v) ok = %v, want %v", c.obs, c.w, ok, c.ourOK)
		}
		want := c.gbP
		if c.differ {
			want = c.ourP
		}
		approx(t, "SRM p", p, want, c.digits)
	}
}

func TestSRMExamples(t *testing.T) {
	cases := []struct {
		name  string
		obs   []int
		w     []float64
		ok    bool
		chi2  float64 // checked when ok and finite
		flag  bool
		nullC bool // JSON chi2 null
		nullP bool // JSON p_value null
	}{
		{name: "balanced", obs: []int{5000, 5000}, w: []float64{1, 1}, ok: true, chi2: 0},
		{name: "balanced within noise", obs: []int{5040, 4960}, w: []float64{0.5, 0.5}, ok: true, chi2: 0.64},
		{name: "clearly mismatched", obs: []int{5000, 4500}, w: []float64{0.5, 0.5}, ok: true, chi2: 2 * 250.0 * 250 / 4750, flag: true},
		{name: "unequal weights, matching", obs: []int{7500, 2500}, w: []float64{3, 1}, ok: true, chi2: 0},
		{name: "unequal weights, mismatched", obs: []int{5000, 5000}, w: []float64{0.75, 0.25}, ok: true, chi2: 2500.0*2500/7500 + 2500.0*2500/2500, flag: true},
		{name: "zero-weight arm with nobody is left out", obs: []int{5000, 0, 5000}, w: []float64{0.5, 0, 0.5}, ok: true, chi2: 0},
		{name: "zero-weight arm with units: total mismatch", obs: []int{5000, 3, 5000}, w: []float64{0.5, 0, 0.5}, ok: true, chi2: math.Inf(1), flag: true, nullC: true},
		{name: "one arm", obs: []int{100}, w: []float64{1}, nullC: true, nullP: true},
		{name: "one positive-weight arm", obs: []int{100, 0}, w: []float64{1, 0}, nullC: true, nullP: true},
		{name: "total zero", obs: []int{0, 0}, w: []float64{1, 1}, nullC: true, nullP: true},
		{name: "length mismatch", obs: []int{1, 2, 3}, w: []float64{1, 1}, nullC: true, nullP: true},
		{name: "negative count", obs: []int{-1, 2}, w: []float64{1, 1}, nullC: true, nullP: true},
		{name: "negative weight", obs: []int{1, 2}, w: []float64{-1, 1}, nullC: true, nullP: true},
		{name: "NaN weight", obs: []int{1, 2}, w: []float64{math.NaN(), 1}, nullC: true, nullP: true},
		{name: "all weights zero", obs: []int{1, 2}, w: []float64{0, 0}, nullC: true, nullP: true},
		{name: "empty", nullC: true, nullP: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			chi2, p, ok := SRM(c.obs, c.w)
			if ok != c.ok {
				t.Fatalf("ok = %v, want %v", ok, c.ok)
			}
			if ok {
				if math.IsInf(c.chi2, 1) {
					if !math.IsInf(chi2, 1) || p != 0 {
						t.Errorf("chi2, p = %v, %v, want +Inf, 0", chi2, p)
					}
				} else if math.Abs(chi2-c.chi2) > 1e-9*(1+c.chi2) {
					t.Errorf("chi2 = %v, want %v", chi2, c.chi2)
				}
				if p < 0 || p > 1 {
					t.Errorf("p = %v out of [0, 1]", p)
				}
			}
			r := SRMCheck(c.obs, c.w)
			if r.Flag != c.flag {
				t.Errorf("flag = %v, want %v (p %v)", r.Flag, c.flag, p)
			}
			if (r.Chi2 == nil) != c.nullC || (r.PValue == nil) != c.nullP {
				t.Errorf("SRMCheck = %+v, want chi2 null %v, p null %v", r, c.nullC, c.nullP)
			}
			if _, err := json.Marshal(r); err != nil {
				t.Errorf("marshal: %v", err)
			}
		})
	}
	if !SRMFlag(0.000999) || SRMFlag(0.001) || SRMFlag(0.5) {
		t.Error("SRMFlag must be p < 0.001")
	}
}

// KAT-9 (research-stats.md §3): GrowthBook packages/shared/test/experiments.test.ts.
func TestHolmKnownAnswers(t *testing.T) {
	cases := []struct {
		name string
		in   []float64
		want []float64
	}{
		// GB packages/shared/test/experiments.test.ts (adjustPValuesHolmBonferroni)
		{"GrowthBook", []float64{0.01, 0.04, 0.03, 0.005, 0.55, 0.6}, []float64{0.05, 0.12, 0.12, 0.03, 1, 1}},
		// Textbook (Holm 1979 step-down; same as R p.adjust(p, "holm")):
		// sorted 0.005·4 = 0.02, 0.01·3 = 0.03, 0.03·2 = 0.06, 0.04·1 = 0.04 → 0.06 (monotone)
		{"textbook", []float64{0.01, 0.04, 0.03, 0.005}, []float64{0.03, 0.06, 0.06, 0.02}},
		{"single", []float64{0.2}, []float64{0.2}},
		{"ties", []float64{0.01, 0.01, 0.5}, []float64{0.03, 0.03, 0.5}},
		{"capped at 1", []float64{0.6, 0.7}, []float64{1, 1}},
		{"invalid counts as 1", []float64{math.NaN(), 0.01}, []float64{1, 0.02}},
		{"empty", nil, []float64{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Holm(c.in)
			if len(got) != len(c.want) {
				t.Fatalf("len %d, want %d", len(got), len(c.want))
			}
			for i := range got {
				approx(t, "holm", got[i], c.want[i], 10)
			}
		})
	}
}

// KAT-9 (research-stats.md §3), BH half: GrowthBook
// packages/shared/test/experiments.test.ts (adjustPValuesBenjaminiHochberg).
func TestBenjaminiHochbergKnownAnswers(t *testing.T) {
	in := []float64{0.898, 0.138, 0.007, 0.964, 0.538, 0.006, 0.138}
	want := []float64{0.964, 0.2415, 0.0245, 0.964, 0.7532, 0.0245, 0.2415}
	got := BenjaminiHochberg(in)
	for i := range want {
		approx(t, "bh", got[i], want[i], 10)
	}
	if len(BenjaminiHochberg(nil)) != 0 {
		t.Error("empty input")
	}
}

func TestAdjustedCI(t *testing.T) {
	ci := [2]float64{-0.1, 0.5}
	if lo, hi := AdjustedCI(1, 0.2, Alpha, ci); !math.IsInf(lo, -1) || !math.IsInf(hi, 1) {
		t.Errorf("p_adj = 1 should be unbounded, got [%v, %v]", lo, hi)
	}
	// adjusted p smaller than needed to widen: the original CI stays
	if lo, hi := AdjustedCI(0.0001, 0.2, Alpha, ci); lo != ci[0] || hi != ci[1] {
		t.Errorf("narrower adjusted CI must not replace ci, got [%v, %v]", lo, hi)
	}
	// lift 0 → GrowthBook's [0, 0], never wider, so the original CI
	if lo, hi := AdjustedCI(0.5, 0, Alpha, ci); lo != ci[0] || hi != ci[1] {
		t.Errorf("lift 0: got [%v, %v]", lo, hi)
	}
	// p_adj = 0.5 with lift 0.2: half-width 1.95996·0.2/Φ⁻¹(0.75) = 0.581178
	lo, hi := AdjustedCI(0.5, 0.2, Alpha, ci)
	approx(t, "lo", lo, 0.2-1.959963984540054*0.2/0.6744897501960817, 12)
	approx(t, "hi", hi, 0.2+1.959963984540054*0.2/0.6744897501960817, 12)
}

// KAT-10 (research-stats.md §3): GrowthBook packages/shared/test/power.test.ts.
func TestPowerKnownAnswers(t *testing.T) {
	t.Run("mean metric, fixed horizon", func(t *testing.T) {
		// GB power.test.ts: mean 10, variance 3909.99977, effect 5 %, N 400 000, 3 variations
		nA := 400000.0 / 3
		approx(t, "power", Power(10, 3909.99977, 0.05, nA, Alpha), 0.52144, 5)
		mde, ok := MDE(10, 3909.99977, nA, Alpha, TargetPower)
		if !ok {
			t.Fatal("MDE not ok")
		}
		approx(t, "mde", mde, 0.07027, 4)
	})
	t.Run("CTR weekly table", func(t *testing.T) {
		// GB power.test.ts: conversion rate 0.10, effect 5 %, 4 500 users/week, 3 variations, 9 weeks
		power := []float64{0.07300, 0.09650, 0.12040, 0.14458, 0.16895, 0.19342, 0.21791, 0.24235, 0.26666}
		mde := []float64{0.36767, 0.24505, 0.19525, 0.16673, 0.14774, 0.13394, 0.12336, 0.11491, 0.10796}
		res, err := Plan(0.10, 0.05, 4500, 3, 9)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Weeks) != 9 {
			t.Fatalf("%d weeks", len(res.Weeks))
		}
		for i, w := range res.Weeks {
			if w.Week != i+1 {
				t.Errorf("week %d numbered %d", i+1, w.Week)
			}
			approx(t, "power", w.Power, power[i], 4)
			approx(t, "mde", ptr(t, "mde", w.MDE), mde[i], 5)
		}
	})
}

func TestPlanSampleSize(t *testing.T) {
	cases := []struct {
		baseline, mde float64
		weekly, arms  int
	}{
		{0.10, 0.05, 4500, 3},
		{0.02, 0.10, 1000, 2},
		{0.5, 0.01, 100000, 4},
		{0.999, 0.0005, 10, 2},
	}
	for _, c := range cases {
		res, err := Plan(c.baseline, c.mde, c.weekly, c.arms, 4)
		if err != nil {
			t.Fatal(err)
		}
		n := *res.NPerArm
		v := c.baseline * (1 - c.baseline)
		// n is the smallest integer at which GrowthBook's MDE formula reaches the planned mde ...
		if e, ok := MDE(c.baseline, v, float64(n), Alpha, TargetPower); !ok || e > c.mde*(1+1e-12) {
			t.Errorf("%+v: MDE at n_per_arm %d is %v, want <= %v", c, n, e, c.mde)
		}
		if e, ok := MDE(c.baseline, v, float64(n-1), Alpha, TargetPower); ok && e <= c.mde {
			t.Errorf("%+v: n_per_arm %d is not the smallest (MDE at n-1 is %v)", c, n, e)
		}
		// ... and there the power is at least 80 %.
		if p := Power(c.baseline, v, c.mde, float64(n), Alpha); p < TargetPower {
			t.Errorf("%+v: power at n_per_arm %d is %v", c, n, p)
		}
	}
	// closed form for the KAT-10 CTR example: z = 1.959964 + 0.841621,
	// n = z²·0.09·(1 + 1.05²)/(0.01·0.0025) = 59408.1…
	res, _ := Plan(0.10, 0.05, 4500, 3, 1)
	if *res.NPerArm != 59409 {
		t.Errorf("n_per_arm = %d, want 59409", *res.NPerArm)
	}
}

func TestPlanEdges(t *testing.T) {
	// Too few users in week 1 for any MDE: null, power still a number.
	res, err := Plan(0.01, 0.05, 1, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range res.Weeks {
		if w.MDE != nil {
			t.Errorf("week %d mde = %v, want null", w.Week, *w.MDE)
		}
		if w.Power < 0 || w.Power > 1 || math.IsNaN(w.Power) {
			t.Errorf("week %d power = %v", w.Week, w.Power)
		}
	}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"mde":null`) || !strings.Contains(string(b), `"n_per_arm":`) {
		t.Errorf("json %s", b)
	}
	// Longest horizon with a tiny baseline works and stays finite.
	if res, err := Plan(1e-9, 1e-6, 1, 2, 520); err != nil || len(res.Weeks) != 520 {
		t.Fatalf("extreme plan: %v", err)
	} else if _, err := json.Marshal(res); err != nil {
		t.Fatal(err)
	}
}

func TestPlanErrors(t *testing.T) {
	cases := []struct {
		baseline, mde       float64
		weekly, arms, weeks int
		arg                 string
	}{
		{0, 0.05, 100, 2, 4, "baseline"},
		{1, 0.05, 100, 2, 4, "baseline"},
		{-0.2, 0.05, 100, 2, 4, "baseline"},
		{math.NaN(), 0.05, 100, 2, 4, "baseline"},
		{0.1, 0, 100, 2, 4, "mde"},
		{0.1, -0.1, 100, 2, 4, "mde"},
		{0.1, math.NaN(), 100, 2, 4, "mde"},
		{0.1, math.Inf(1), 100, 2, 4, "mde"},
		{0.1, 0.05, 0, 2, 4, "weekly"},
		{0.1, 0.05, 100, 1, 4, "arms"},
		{0.1, 0.05, 100, 2, 0, "weeks"},
		{0.1, 0.05, 100, 2, 521, "weeks"},
	}
	for _, c := range cases {
		_, err := Plan(c.baseline, c.mde, c.weekly, c.arms, c.weeks)
		var ae *ArgumentError
		if !errors.As(err, &ae) || ae.Name != c.arg {
			t.Errorf("Plan(%v, %v, %d, %d, %d) error %v, want one naming %q", c.baseline, c.mde, c.weekly, c.arms, c.weeks, err, c.arg)
			continue
		}
		if !strings.Contains(err.Error(), c.arg) {
			t.Errorf("message %q does not name %q", err, c.arg)
		}
	}
	if _, err := Plan(0.1, 0.05, 100, 2, 520); err != nil {
		t.Errorf("520 weeks is allowed: %v", err)
	}
}

func TestCompareEdges(t *testing.T) {
	type want struct {
		rate, ci, diff, lift, inference bool // which variant fields are non-null
	}
	cases := []struct {
		name     string
		control  Count
		variant  Count
		ctrlRate bool
		want     want
	}{
		{"regular", Count{10, 100}, Count{15, 100}, true, want{true, true, true, true, true}},
		{"zero clicks in both", Count{0, 100}, Count{0, 100}, true, want{rate: true, ci: true, diff: true}},
		{"control rate 0, variant clicks", Count{0, 100}, Count{5, 100}, true, want{rate: true, ci: true, diff: true}},
		{"variant rate 0", Count{5, 100}, Count{0, 100}, true, want{rate: true, ci: true, diff: true, lift: true}},
		{"all clicked in both", Count{100, 100}, Count{100, 100}, true, want{rate: true, ci: true, diff: true, lift: true}},
		{"all clicked in variant", Count{50, 100}, Count{100, 100}, true, want{rate: true, ci: true, diff: true, lift: true}},
		{"n = 1 in both", Count{1, 1}, Count{0, 1}, true, want{rate: true, ci: true, diff: true, lift: true}},
		{"n = 1 in variant", Count{5, 10}, Count{1, 1}, true, want{rate: true, ci: true, diff: true, lift: true}},
		{"n = 2 with variance", Count{1, 2}, Count{1, 2}, true, want{true, true, true, true, true}},
		{"variant not delivered", Count{5, 10}, Count{0, 0}, true, want{}},
		{"control not delivered", Count{0, 0}, Count{5, 10}, false, want{rate: true, ci: true}},
		{"clicks above n", Count{5, 10}, Count{11, 10}, true, want{}},
		{"negative clicks", Count{-1, 10}, Count{5, 10}, false, want{rate: true, ci: true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := Compare(c.control, []Count{c.variant})
			if (res.Control.Rate != nil) != c.ctrlRate || (res.Control.CI != nil) != c.ctrlRate {
				t.Errorf("control = %+v, want rate set %v", res.Control, c.ctrlRate)
			}
			v := res.Variants[0]
			check := func(field string, isSet, want bool) {
				if isSet != want {
					t.Errorf("%s set = %v, want %v", field, isSet, want)
				}
			}
			check("rate", v.Rate != nil, c.want.rate)
			check("ci", v.CI != nil, c.want.ci)
			check("absolute_diff", v.AbsoluteDiff != nil, c.want.diff)
			check("lift", v.Lift != nil, c.want.lift)
			check("lift_ci", v.LiftCI != nil, c.want.inference)
			check("p_value", v.PValue != nil, c.want.inference)
			check("p_value_adjusted", v.PValueAdjusted != nil, c.want.inference)
			check("chance_to_beat_control", v.ChanceToBeatControl != nil, c.want.inference)
			check("expected_loss", v.ExpectedLoss != nil, c.want.inference)
			if _, err := json.Marshal(res); err != nil {
				t.Errorf("marshal: %v", err)
			}
		})
	}
	t.Run("values", func(t *testing.T) {
		v := Compare(Count{5, 100}, []Count{{0, 100}}).Variants[0]
		if *v.Lift != -1 || *v.AbsoluteDiff != -0.05 || *v.Rate != 0 || v.CI[0] != 0 {
			t.Errorf("variant rate 0: %+v", v)
		}
		v = Compare(Count{100, 100}, []Count{{100, 100}}).Variants[0]
		if *v.Lift != 0 || *v.AbsoluteDiff != 0 || v.CI[1] != 1 {
			t.Errorf("all clicked: %+v", v)
		}
	})
}

func TestCompareOneArm(t *testing.T) {
	res := Compare(Count{Clicks: 3, N: 10}, nil)
	if len(res.Variants) != 0 || res.Control.Rate == nil || *res.Control.Rate != 0.3 {
		t.Fatalf("one arm: %+v", res)
	}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"variants":[]`) {
		t.Errorf("one arm json %s, want an empty variants list", b)
	}
}

func TestCompareMultipleVariantsHolm(t *testing.T) {
	ctrl := Count{Clicks: 100, N: 1000}
	vars := []Count{{Clicks: 130, N: 1000}, {Clicks: 105, N: 1000}, {Clicks: 0, N: 1000}, {Clicks: 200, N: 1000}}
	res := Compare(ctrl, vars)
	var ps []float64
	var idx []int
	for i, v := range res.Variants {
		if v.PValue != nil {
			ps = append(ps, *v.PValue)
			idx = append(idx, i)
		}
	}
	if len(ps) != 3 || res.Variants[2].PValueAdjusted != nil {
		t.Fatalf("the zero-click variant has no test and is not in the Holm family: %d p-values", len(ps))
	}
	adj := Holm(ps)
	for k, i := range idx {
		v := res.Variants[i]
		if *v.PValueAdjusted != adj[k] || *v.PValueAdjusted < *v.PValue {
			t.Errorf("variant %d: adjusted %v, want %v (>= p %v)", i, *v.PValueAdjusted, adj[k], *v.PValue)
		}
		if v.LiftCIAdjusted != nil && (v.LiftCIAdjusted[0] > v.LiftCI[0] || v.LiftCIAdjusted[1] < v.LiftCI[1]) {
			t.Errorf("variant %d: adjusted CI %v narrower than %v", i, *v.LiftCIAdjusted, *v.LiftCI)
		}
	}
	// The strongest variant's adjusted CI widens and still excludes 0.
	if v := res.Variants[3]; v.LiftCIAdjusted == nil || v.LiftCIAdjusted[0] <= 0 || v.LiftCIAdjusted[0] >= v.LiftCI[0] {
		t.Errorf("variant 3 adjusted CI %v vs CI %v", v.LiftCIAdjusted, v.LiftCI)
	}
	// An identical-rate variant has p = 1 → adjusted 1 → unbounded CI → null.
	res = Compare(ctrl, []Count{{Clicks: 100, N: 1000}, {Clicks: 150, N: 1000}})
	if v := res.Variants[0]; *v.PValueAdjusted != 1 || v.LiftCIAdjusted != nil || v.LiftCI == nil {
		t.Errorf("p = 1 variant: %+v", v)
	}
}

// JSON: the field names of product.md §13, null for undefined values,
// never NaN or Inf (json.Marshal refuses those, so an error would show).
func TestJSONShapes(t *testing.T) {
	res := Compare(Count{Clicks: 0, N: 50}, []Count{{Clicks: 3, N: 50}, {Clicks: 0, N: 0}})
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, bad := range []string{"NaN", "Inf"} {
		if strings.Contains(s, bad) {
			t.Errorf("json contains %s: %s", bad, s)
		}
	}
	var generic struct {
		Control  map[string]any   `json:"control"`
		Variants []map[string]any `json:"variants"`
	}
	if err := json.Unmarshal(b, &generic); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"rate", "ci"} {
		if _, ok := generic.Control[k]; !ok {
			t.Errorf("control lacks %q", k)
		}
	}
	keys := []string{"rate", "ci", "absolute_diff", "lift", "lift_ci", "p_value", "p_value_adjusted", "chance_to_beat_control", "expected_loss"}
	for i, v := range generic.Variants {
		for _, k := range keys {
			if _, ok := v[k]; !ok {
				t.Errorf("variant %d lacks %q", i, k)
			}
		}
	}
	// control rate 0: lift and the inference fields are null, the rate and diff are not
	v0 := generic.Variants[0]
	for _, k := range []string{"lift", "lift_ci", "p_value", "chance_to_beat_control", "expected_loss"} {
		if v0[k] != nil {
			t.Errorf("variant 0 %s = %v, want null", k, v0[k])
		}
	}
	if v0["rate"] == nil || v0["absolute_diff"] == nil {
		t.Errorf("variant 0 rate/absolute_diff null: %v", v0)
	}
	if !strings.Contains(s, `"lift":null`) || !strings.Contains(s, `"rate":null`) {
		t.Errorf("expected nulls in %s", s)
	}

	// SRM and plan shapes
	b, _ = json.Marshal(SRMCheck([]int{1000, 1200}, []float64{1, 1}))
	var srm map[string]any
	_ = json.Unmarshal(b, &srm)
	for _, k := range []string{"chi2", "p_value", "flag"} {
		if _, ok := srm[k]; !ok {
			t.Errorf("srm lacks %q: %s", k, b)
		}
	}
	b, _ = json.Marshal(SRMCheck([]int{0, 0}, []float64{1, 1}))
	if string(b) != `{"chi2":null,"p_value":null,"flag":false}` {
		t.Errorf("undefined srm json %s", b)
	}
	plan, _ := Plan(0.1, 0.05, 4500, 3, 2)
	b, _ = json.Marshal(plan)
	var pm struct {
		NPerArm *int             `json:"n_per_arm"`
		Weeks   []map[string]any `json:"weeks"`
	}
	_ = json.Unmarshal(b, &pm)
	if pm.NPerArm == nil || len(pm.Weeks) != 2 {
		t.Fatalf("plan json %s", b)
	}
	for _, k := range []string{"week", "power", "mde"} {
		if _, ok := pm.Weeks[0][k]; !ok {
			t.Errorf("plan week lacks %q: %s", k, b)
		}
	}
}

// Every combination of small counts marshals (no NaN/Inf anywhere) and
// keeps probabilities in range.
func TestCompareSweepNeverNaN(t *testing.T) {
	for nc := 0; nc <= 6; nc++ {
		for xc := 0; xc <= nc; xc++ {
			for nv := 0; nv <= 6; nv++ {
				for xv := 0; xv <= nv; xv++ {
					res := Compare(Count{xc, nc}, []Count{{xv, nv}, {xc, nc}})
					if _, err := json.Marshal(res); err != nil {
						t.Fatalf("%d/%d vs %d/%d: %v", xc, nc, xv, nv, err)
					}
					for _, v := range res.Variants {
						for _, p := range []*float64{v.PValue, v.PValueAdjusted, v.ChanceToBeatControl} {
							if p != nil && (*p < 0 || *p > 1) {
								t.Fatalf("%d/%d vs %d/%d: probability %v", xc, nc, xv, nv, *p)
							}
						}
						if v.ExpectedLoss != nil && *v.ExpectedLoss < 0 {
							t.Fatalf("negative expected loss %v", *v.ExpectedLoss)
						}
					}
				}
			}
		}
	}
}

func TestInvalidAlpha(t *testing.T) {
	c, v := ProportionMoments(10, 100), ProportionMoments(20, 100)
	for _, a := range []float64{0, 1, -0.1, math.NaN()} {
		if _, ok := WelchTTest(c, v, true, a); ok {
			t.Errorf("WelchTTest alpha %v ok", a)
		}
		if _, ok := BayesTest(c, v, true, a); ok {
			t.Errorf("BayesTest alpha %v ok", a)
		}
	}
}
