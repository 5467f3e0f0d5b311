package experiments

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/google/uuid"
)

// testContacts returns n contact ids drawn from a seeded generator, so the
// statistical tests below are random-looking but reproducible.
func testContacts(t testing.TB, n int, seed byte) []uuid.UUID {
	t.Helper()
	var s [32]byte
	s[0] = seed
	r := rand.NewChaCha8(s)
	out := make([]uuid.UUID, n)
	for i := range out {
		id, err := uuid.NewRandomFromReader(r)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = id
	}
	return out
}

var testExperimentID = uuid.MustParse("01937a2e-5b1c-7d3e-8f40-123456789abc")

func TestAssignIsDeterministic(t *testing.T) {
	contacts := testContacts(t, 2000, 1)
	configs := []struct {
		holdout float64
		weights []float64
	}{
		{0, []float64{1}},
		{0.1, []float64{1, 1}},
		{0.25, []float64{3, 1, 0, 2}},
	}
	for _, cfg := range configs {
		t.Run(fmt.Sprintf("holdout %v weights %v", cfg.holdout, cfg.weights), func(t *testing.T) {
			for _, c := range contacts {
				a := Assign(testExperimentID, c, cfg.holdout, cfg.weights)
				b := Assign(testExperimentID, c, cfg.holdout, append([]float64(nil), cfg.weights...))
				if a != b {
					t.Fatalf("contact %s: Assign gave %d then %d", c, a, b)
				}
				// A fresh copy of the ids gives the same answer too.
				if got := Assign(uuid.MustParse(testExperimentID.String()), uuid.MustParse(c.String()), cfg.holdout, cfg.weights); got != a {
					t.Fatalf("contact %s: Assign gave %d then %d for equal ids", c, a, got)
				}
			}
		})
	}
}

func TestAssignDependsOnTheExperiment(t *testing.T) {
	contacts := testContacts(t, 2000, 2)
	other := uuid.MustParse("01937a2e-5b1c-7d3e-8f40-cba987654321")
	differ := 0
	for _, c := range contacts {
		if Assign(testExperimentID, c, 0, []float64{1, 1}) != Assign(other, c, 0, []float64{1, 1}) {
			differ++
		}
	}
	// Independent fair coins disagree half of the time.
	if differ < 800 || differ > 1200 {
		t.Errorf("%d of %d contacts got another arm in another experiment; want about half", differ, len(contacts))
	}
}

func TestAssignShares(t *testing.T) {
	const n = 20000
	contacts := testContacts(t, n, 3)
	tests := []struct {
		name    string
		holdout float64
		weights []float64
		want    map[int]float64 // arm (-1 holdout) -> expected share
	}{
		{"one variant, no holdout", 0, []float64{1}, map[int]float64{-1: 0, 0: 1}},
		{"holdout 10%", 0.1, []float64{1}, map[int]float64{-1: 0.1, 0: 0.9}},
		{"holdout 50%", 0.5, []float64{1}, map[int]float64{-1: 0.5, 0: 0.5}},
		{"1:1", 0, []float64{1, 1}, map[int]float64{-1: 0, 0: 0.5, 1: 0.5}},
		{"3:1", 0, []float64{3, 1}, map[int]float64{-1: 0, 0: 0.75, 1: 0.25}},
		{"3:1 with 20% holdout", 0.2, []float64{3, 1}, map[int]float64{-1: 0.2, 0: 0.6, 1: 0.2}},
		{"fractional weights 0.3:0.7", 0.05, []float64{0.3, 0.7}, map[int]float64{-1: 0.05, 0: 0.285, 1: 0.665}},
		{"four equal arms", 0.1, []float64{1, 1, 1, 1}, map[int]float64{-1: 0.1, 0: 0.225, 1: 0.225, 2: 0.225, 3: 0.225}},
		{"zero weight in the middle", 0, []float64{1, 0, 1}, map[int]float64{-1: 0, 0: 0.5, 1: 0, 2: 0.5}},
		{"zero weight first", 0.3, []float64{0, 1}, map[int]float64{-1: 0.3, 0: 0, 1: 0.7}},
		{"zero weight last", 0, []float64{2, 1, 0}, map[int]float64{-1: 0, 0: 2.0 / 3, 1: 1.0 / 3, 2: 0}},
		{"tiny holdout", 0.001, []float64{1, 1}, map[int]float64{-1: 0.001, 0: 0.4995, 1: 0.4995}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			counts := map[int]int{}
			for _, c := range contacts {
				a := Assign(testExperimentID, c, tt.holdout, tt.weights)
				if a < -1 || a >= len(tt.weights) {
					t.Fatalf("Assign returned %d, out of range for %d variants", a, len(tt.weights))
				}
				counts[a]++
			}
			for arm, p := range tt.want {
				got := float64(counts[arm]) / n
				if p == 0 || p == 1 {
					if got != p {
						t.Errorf("arm %d: share %.4f, want exactly %v", arm, got, p)
					}
					continue
				}
				// Five standard errors: a false alarm is practically impossible.
				tol := 5 * math.Sqrt(p*(1-p)/n)
				if math.Abs(got-p) > tol {
					t.Errorf("arm %d: share %.4f, want %.4f ± %.4f", arm, got, p, tol)
				}
			}
		})
	}
}

func TestAssignHoldoutZeroNeverHoldsOut(t *testing.T) {
	contacts := testContacts(t, 20000, 4)
	// The all-zero and all-ones ids are the corners of the hash's input.
	contacts = append(contacts, uuid.Nil, uuid.Max)
	for _, weights := range [][]float64{{1}, {1, 1}, {0, 1}, {5, 0, 1e-9}} {
		for _, c := range contacts {
			if a := Assign(testExperimentID, c, 0, weights); a == -1 {
				t.Fatalf("weights %v: contact %s was held out with holdout 0", weights, c)
			}
		}
	}
}

func TestAssignZeroWeightGetsNobody(t *testing.T) {
	contacts := testContacts(t, 20000, 5)
	for _, weights := range [][]float64{{0, 1}, {1, 0}, {1, 0, 1}, {0, 0, 1, 0}, {1e-12, 0, 1e12}} {
		for _, c := range contacts {
			a := Assign(testExperimentID, c, 0.1, weights)
			if a >= 0 && weights[a] == 0 {
				t.Fatalf("weights %v: contact %s assigned to zero-weight variant %d", weights, c, a)
			}
		}
	}
}
