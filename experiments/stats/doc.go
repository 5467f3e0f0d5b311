// Package stats holds the statistics behind experiment results (product.md
// §7): per-arm Wilson intervals, the GrowthBook-compatible frequentist and
// Bayesian comparisons of a variant against the control, the
// sample-ratio-mismatch (SRM) check, Holm–Bonferroni (and
// Benjamini–Hochberg) p-value adjustment and the week-by-week power / MDE
// planner. The package is pure: it takes counts and returns numbers, and its
// result types (CompareResult, SRMResult, PlanResult) serialise to the JSON
// shapes of product.md §13 ("stats compare", "stats srm", "stats plan").
//
// Sources. The formulas follow the project's research-stats.md (beside product.md) §2, which
// transcribes GrowthBook (growthbook/growthbook, packages/stats/gbstats and
// packages/shared/src/{power,experiments}) plus Wilson (1927) and Newcombe
// (1998). Distribution functions (normal, Student t, χ²) come from
// gonum.org/v1/gonum/stat/distuv; nothing here hand-rolls a special function.
//
// Per-arm rate (Wilson score interval, Wilson 1927; GrowthBook does not use
// it, it is for our report UI):
//
//	p̂ = x/n, centre = (p̂ + z²/2n)/(1 + z²/n),
//	half = z·√(p̂(1−p̂)/n + z²/4n²)/(1 + z²/n), CI = [centre−half, centre+half]
//
// clamped to [0, 1], with the lower bound exactly 0 when x = 0 and the upper
// bound exactly 1 when x = n.
//
// Frequentist comparison (GrowthBook's frequentist engine, gbstats
// EffectMoments + TwoSidedTTest). Each arm is reduced to Moments: for a
// proportion mean = x/n and var = mean·(1−mean) — the population form,
// WITHOUT the n/(n−1) correction, exactly as gbstats ProportionStatistic.
// With control C and variant T:
//
//	lift      Δ = (μT − μC)/|μC|
//	Var(Δ)    = (σ²T/nT)/μC² + (σ²C/nC)·μT²/μC⁴        (delta method)
//	ν         = (σ²T/nT + σ²C/nC)² / (σ⁴T/(nT²(nT−1)) + σ⁴C/(nC²(nC−1)))
//	p         = 2·P(T_ν > |Δ/SE|),  CI = Δ ± t_ν(1−α/2)·SE
//
// The absolute test uses Δ = μT − μC and Var = σ²T/nT + σ²C/nC with the same
// ν. Like GrowthBook, a comparison is not computed when either arm's
// variance is ≤ 0 (no clicks, or everyone clicked) or the control mean is 0;
// where GrowthBook then reports an uninformative default (p = 1, CI [0, 0],
// chance to win 0.5) this package reports "undefined" (ok = false, JSON
// null) instead, so a placeholder is never mistaken for a result.
//
// Bayesian comparison (GrowthBook ≥ 3.0 EffectBayesianABTest with its
// default improper prior): the posterior of the lift is N(m, s²) with m = Δ
// and s = SE from the frequentist moments above (a proper prior N(μ0, σ0²)
// would give precision 1/SE² + 1/σ0²; the default is improper). Then
//
//	chance to beat control = Φ(m/s)             (normal, not t)
//	credible interval      = m ± Φ⁻¹(1−α/2)·s
//	risk[0] = E[max(Δ, 0)]  = m·Φ(m/s) + s·φ(m/s)  (loss if control is kept)
//	risk[1] = E[max(−Δ, 0)] = −m·Φ(−m/s) + s·φ(m/s) (loss if the variant ships)
//
// and "expected_loss" is risk[1], on the relative-lift scale (GrowthBook's
// risk_type "relative").
//
// SRM: Pearson χ² goodness of fit of the observed counts against the
// normalised configured weights, df = k−1, p = P(χ²_df > X²); flagged at
// p < 0.001 (GrowthBook DEFAULT_SRM_THRESHOLD). Unlike GrowthBook (which
// silently drops zero-weight arms), an arm with weight 0 that nevertheless
// has observations is a total mismatch (p = 0); SRMGrowthBook keeps
// GrowthBook's behaviour for parity.
//
// Multiple variants: p-values are Holm–Bonferroni adjusted over the
// variants (GrowthBook adjustPValuesHolmBonferroni) and the adjusted lift CI
// is GrowthBook's getAdjustedCI: lift ± Φ⁻¹(1−α/2)·|lift/Φ⁻¹(1−p_adj/2)|,
// only ever widening the unadjusted CI, unbounded when p_adj ≈ 1.
//
// Planning (GrowthBook packages/shared/src/power/power.ts, frequentist,
// fixed-horizon): with baseline m, v = m(1−m), relative effect e and n users
// per arm,
//
//	SE    = √( v/(m²n) + v·(m(1+e))²/(m⁴n) )
//	power = 1 − Φ(z* − e/SE) + Φ(−z* − e/SE),   z* = Φ⁻¹(1 − α/2)
//	MDE   : solve (1 − z²σ²/m²)x² − 2mx + m² − z²σ² = 0, MDE = (x − m)/m,
//	        z = Φ⁻¹(1−α/2) − Φ⁻¹(1−π), σ² = v/n; undefined when n ≤ vz²/m²
//
// and the per-arm sample size is the n at which that MDE equals e, i.e.
// n = z²·v·(1 + (1+e)²)/(m²e²), rounded up. Week w uses n = weekly·w/arms
// users per arm (not rounded, as GrowthBook does).
package stats
