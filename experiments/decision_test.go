package experiments

import (
	"math/rand/v2"
	"strings"
	"testing"
)

func engineExperiment(engine string) *Experiment {
	return &Experiment{Engine: engine, WinnerMinPerArm: 100, WinnerMinChance: 0.95,
		ViabilityMetric: "lift", ViabilityThreshold: 0, ViabilityMinChance: 0.95, ViabilityMinSample: 100}
}

// The case the issue names: p = 0.066 but a 96.7 % chance to beat the
// control. Each engine decides on its own figure, and the winner, the
// verdict and the summary agree with each other.
func TestEnginesDecideAlone(t *testing.T) {
	r := verdictResults(verdictArm("control", true, 1, 1000, 100), verdictArm("numbers", false, 1, 1000, 130))
	for _, tc := range []struct {
		engine  string
		winner  bool
		summary []string
	}{
		{EngineBayesian, true, []string{"numbers is ahead: 97 % chance to beat control, +30 % CTR ("}},
		{EngineFrequentist, false, []string{"no winner yet: the best, numbers, has +30 % CTR (", "p = 0.066", "needs p < 0.05"}},
		{"", true, []string{"numbers is ahead"}}, // bayesian by default
	} {
		t.Run(tc.engine, func(t *testing.T) {
			e := engineExperiment(tc.engine)
			w, why := ruleWinner(e, r)
			if (w != nil) != tc.winner {
				t.Errorf("winner = %v (%s), want a winner: %v", w, why, tc.winner)
			}
			v := verdict(e, r)
			if (v.State == VerdictViable) != tc.winner {
				t.Errorf("verdict %+v disagrees with the winner rule (%v)", v, tc.winner)
			}
			s := summary(e, r)
			for _, want := range tc.summary {
				if !strings.Contains(s, want) {
					t.Errorf("summary %q does not say %q", s, want)
				}
			}
			checkReason(t, s)
		})
	}
}

func TestSummaryStates(t *testing.T) {
	e := engineExperiment(EngineBayesian)
	for _, tc := range []struct {
		name string
		r    *Results
		want string
	}{
		{"nothing sent", verdictResults(verdictArm("A", true, 1, 0, 0), verdictArm("B", false, 1, 0, 0)), "nothing sent yet"},
		{"too few for a decision", verdictResults(verdictArm("A", true, 1, 80, 4), verdictArm("B", false, 1, 85, 9)),
			"not enough data yet: 80 of the "},
		{"enough for the rule, not for 10 %", verdictResults(verdictArm("A", true, 1, 180, 9), verdictArm("B", false, 1, 200, 11)),
			"; 180 of the "},
		{"control ahead", verdictResults(verdictArm("A", true, 1, 2000, 300), verdictArm("B", false, 1, 2000, 200)),
			"A (the control) is ahead: the best variant, B, has <1 % chance to beat control, −33 % CTR"},
		{"one arm", verdictResults(verdictArm("A", true, 1, 500, 21)), "only one variant: 4.2 % CTR of 500 delivered"},
		{"no control", verdictResults(verdictArm("A", false, 1, 500, 21), verdictArm("B", false, 1, 500, 30)), "there is no control"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := summary(e, tc.r)
			if !strings.Contains(s, tc.want) {
				t.Errorf("summary %q does not say %q", s, tc.want)
			}
			checkReason(t, s)
		})
	}
	// The planned sample is the one the plan tool gives (5 % baseline, +10 %, 80 % power).
	s := summary(e, verdictResults(verdictArm("A", true, 1, 80, 4), verdictArm("B", false, 1, 85, 9)))
	if !strings.Contains(s, "of the 32,958 per arm") || !strings.Contains(s, "per arm needed for a 10 % effect") {
		t.Errorf("summary %q does not give the plan's sample per arm", s)
	}
}

// An interval whose lower end falls below −100 % is said in words.
func TestLiftTextBelowMinus100(t *testing.T) {
	if got := liftText(-0.9, &[2]float64{-1.4, -0.4}); got != "−90 % CTR (could be as low as −100 %, or as high as −40 %)" {
		t.Errorf("liftText = %q", got)
	}
	if got := liftText(0.3, &[2]float64{-0.02, 0.66}); got != "+30 % CTR (−2 % to +66 %)" {
		t.Errorf("liftText = %q", got)
	}
	for x, want := range map[float64]string{0: "0 %", 0.0042: "0.42 %", 0.042: "4.2 %", 0.3: "30 %", -0.021: "−2.1 %", 1.5: "150 %"} {
		if got := pctText(x, false); got != want {
			t.Errorf("pctText(%v) = %q, want %q", x, got, want)
		}
	}
}

// Over many random experiments, whatever the engine, the winner rule, the
// lift verdict (threshold 0) and the summary never contradict each other.
func TestDecisionsAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for _, engine := range []string{EngineBayesian, EngineFrequentist} {
		e := engineExperiment(engine)
		for i := 0; i < 3000; i++ {
			arms := []VariantResult{verdictArm("control", true, 1, 100+rng.IntN(3000), 0)}
			arms[0].HumanClickers = rng.IntN(arms[0].Sent / 4)
			for _, name := range []string{"B", "C"}[:1+rng.IntN(2)] {
				n := 100 + rng.IntN(3000)
				arms = append(arms, verdictArm(name, false, 1, n, rng.IntN(n/3)))
			}
			r := verdictResults(arms...)
			w, _ := ruleWinner(e, r)
			v := verdict(e, r)
			s := summary(e, r)
			if w != nil {
				var name string
				for _, a := range r.Variants {
					if a.ID == *w {
						name = a.Name
					}
				}
				if !strings.HasPrefix(s, name+" is ahead") {
					t.Fatalf("%s: winner %s but summary %q (%+v)", engine, name, s, r.Variants)
				}
			} else if strings.Contains(s, " is ahead:") && !strings.Contains(s, "(the control)") {
				t.Fatalf("%s: no winner but summary %q (%+v)", engine, s, r.Variants)
			}
			if (v.State == VerdictViable) != (w != nil) {
				t.Fatalf("%s: verdict %+v but winner %v (%+v)", engine, v, w, r.Variants)
			}
		}
	}
}
