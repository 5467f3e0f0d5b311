package stats

// Count is one arm of an email experiment: unique human clickers out of
// delivered messages.
type Count struct {
	Clicks int
	N      int
}

// ArmStats is the per-arm part of "stats compare" (product.md §13): the
// click-through rate and its Wilson 95 % interval, null when N = 0.
type ArmStats struct {
	Rate *float64    `json:"rate"`
	CI   *[2]float64 `json:"ci"`
}

// VariantStats is one variant of "stats compare" (product.md §13). Every
// comparison field is null where it is undefined: Lift when the control rate
// is 0; LiftCI, PValue, ChanceToBeatControl and ExpectedLoss when
// GrowthBook's engines cannot compute a comparison (an arm with no clicks or
// only clickers, a control rate of 0, fewer than 2 units in an arm).
//
// PValueAdjusted is the Holm–Bonferroni adjusted p-value over all variants
// with a defined p-value (equal to PValue when there is one such variant);
// LiftCIAdjusted is GrowthBook's matching adjusted CI, null when it is
// unbounded (adjusted p-value ≈ 1).
type VariantStats struct {
	Rate                *float64    `json:"rate"`
	CI                  *[2]float64 `json:"ci"`
	AbsoluteDiff        *float64    `json:"absolute_diff"`
	Lift                *float64    `json:"lift"`
	LiftCI              *[2]float64 `json:"lift_ci"`
	PValue              *float64    `json:"p_value"`
	PValueAdjusted      *float64    `json:"p_value_adjusted"`
	LiftCIAdjusted      *[2]float64 `json:"lift_ci_adjusted"`
	ChanceToBeatControl *float64    `json:"chance_to_beat_control"`
	ExpectedLoss        *float64    `json:"expected_loss"`
}

// CompareResult is the answer of "slicelab stats compare --format json".
type CompareResult struct {
	Control  ArmStats       `json:"control"`
	Variants []VariantStats `json:"variants"`
}

func (c Count) valid() bool { return c.N > 0 && c.Clicks >= 0 && c.Clicks <= c.N }

func armStats(c Count) ArmStats {
	if !c.valid() {
		return ArmStats{}
	}
	a := ArmStats{Rate: num(float64(c.Clicks) / float64(c.N))}
	if lo, hi, ok := Wilson(c.Clicks, c.N, Z95); ok {
		a.CI = pair(lo, hi)
	}
	return a
}

// Compare compares every variant with the control: per-arm rate and Wilson
// interval, absolute difference, relative lift with GrowthBook's
// delta-method Welch t CI and two-sided p-value, GrowthBook's Bayesian
// chance to beat control and expected loss (improper prior), and the
// Holm-adjusted p-values and CIs across the variants. With no variants
// (one arm) there is nothing to compare and Variants is empty. An arm with
// N <= 0 or clicks outside [0, N] has every field null.
func Compare(control Count, variants []Count) CompareResult {
	res := CompareResult{Control: armStats(control), Variants: make([]VariantStats, len(variants))}
	cm := ProportionMoments(control.Clicks, control.N)
	var (
		tested []int
		pvals  []float64
		tests  []TTestResult
	)
	for i, v := range variants {
		a := armStats(v)
		vs := VariantStats{Rate: a.Rate, CI: a.CI}
		if control.valid() && v.valid() {
			vm := ProportionMoments(v.Clicks, v.N)
			vs.AbsoluteDiff = num(vm.Mean - cm.Mean)
			if cm.Mean > 0 {
				vs.Lift = num((vm.Mean - cm.Mean) / cm.Mean)
			}
			if t, ok := WelchTTest(cm, vm, true, Alpha); ok {
				vs.LiftCI = pair(t.CI[0], t.CI[1])
				vs.PValue = num(t.PValue)
				tested = append(tested, i)
				pvals = append(pvals, t.PValue)
				tests = append(tests, t)
			}
			if b, ok := BayesTest(cm, vm, true, Alpha); ok {
				vs.ChanceToBeatControl = num(b.ChanceToWin)
				vs.ExpectedLoss = num(b.Risk[1])
			}
		}
		res.Variants[i] = vs
	}
	adj := Holm(pvals)
	for k, i := range tested {
		res.Variants[i].PValueAdjusted = num(adj[k])
		lo, hi := AdjustedCI(adj[k], tests[k].Estimate, Alpha, tests[k].CI)
		res.Variants[i].LiftCIAdjusted = pair(lo, hi)
	}
	return res
}
