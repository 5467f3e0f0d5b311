package okr

import (
	"errors"
	"math"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestMetricProgressResearchVectors(t *testing.T) {
	for _, c := range []struct {
		name                   string
		start, target, current float64
		raw, score             float64
	}{
		{"increase 100→200 at 150", 100, 200, 150, 0.5, 0.5},
		{"decrease 100→60 at 80", 100, 60, 80, 0.5, 0.5},
		{"decrease 100→60 at 70", 100, 60, 70, 0.75, 0.75},
		{"decrease over-achieved at 50", 100, 60, 50, 1.25, 1},
		{"decrease wrong way at 110", 100, 60, 110, -0.25, 0},
		{"increase over-achieved", 100, 200, 260, 1.6, 1},
		{"increase wrong way", 100, 200, 90, -0.1, 0},
		{"at start", 100, 200, 100, 0, 0},
		{"at target", 0.1, 0.3, 0.3, 1, 1},
		{"decrease to zero (Leantime bug 200→0 at 100)", 200, 0, 100, 0.5, 0.5},
	} {
		raw, err := MetricProgress(c.start, c.target, c.current)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !near(raw, c.raw) {
			t.Errorf("%s: raw %v, want %v", c.name, raw, c.raw)
		}
		if score := Clamp01(raw); !near(score, c.score) {
			t.Errorf("%s: score %v, want %v", c.name, score, c.score)
		}
	}
}

func TestMetricProgressTargetEqualsStart(t *testing.T) {
	for _, v := range []float64{0, 100, -3.5} {
		raw, err := MetricProgress(v, v, v+1)
		if !errors.Is(err, ErrTargetEqualsStart) || raw != 0 {
			t.Errorf("MetricProgress(%v, %v, …) = %v, %v; want ErrTargetEqualsStart", v, v, raw, err)
		}
	}
}

func TestClamp01(t *testing.T) {
	for _, c := range []struct{ in, want float64 }{
		{-0.25, 0}, {0, 0}, {0.3, 0.3}, {1, 1}, {1.25, 1},
		{math.Inf(1), 1}, {math.Inf(-1), 0}, {math.NaN(), 0},
	} {
		if got := Clamp01(c.in); got != c.want {
			t.Errorf("Clamp01(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestThresholdScore(t *testing.T) {
	// "≤ 2% bounce" over [1.9, 2.0, 2.3]: 2.0 counts (inclusive) → 2/3.
	score, ok := ThresholdScore([]float64{1.9, 2.0, 2.3}, 2.0, false)
	if !ok || !near(score, 2.0/3) {
		t.Errorf("at or below 2: %v, %v; want 2/3", score, ok)
	}
	if math.Round(score*100)/100 != 0.67 {
		t.Errorf("rounds to %v, want 0.67", math.Round(score*100)/100)
	}
	// At or above 2 over the same values: 2.0 and 2.3 → 2/3.
	if score, ok := ThresholdScore([]float64{1.9, 2.0, 2.3}, 2.0, true); !ok || !near(score, 2.0/3) {
		t.Errorf("at or above 2: %v, %v; want 2/3", score, ok)
	}
	if score, ok := ThresholdScore([]float64{5, 6, 7, 8}, 4, true); !ok || score != 1 {
		t.Errorf("all in range: %v, %v", score, ok)
	}
	if score, ok := ThresholdScore([]float64{5, 6}, 4, false); !ok || score != 0 {
		t.Errorf("none in range: %v, %v", score, ok)
	}
	if score, ok := ThresholdScore(nil, 2, true); ok || score != 0 {
		t.Errorf("no values: %v, %v; want 0, false", score, ok)
	}
	if _, ok := ThresholdScore([]float64{}, 2, false); ok {
		t.Error("empty values: ok")
	}
}

func TestExpectedProgress(t *testing.T) {
	for _, c := range []struct {
		k, n int
		want float64
	}{
		{6, 13, 0.4615}, // research-okr.md §2.4
		{0, 13, 0},
		{13, 13, 1},
		{7, 14, 0.5},
		{15, 13, 1}, // past the end: clamped
		{-1, 13, 0},
		{3, 0, 0}, // a period without weeks
	} {
		if got := ExpectedProgress(c.k, c.n); math.Abs(got-c.want) > 0.00005 {
			t.Errorf("ExpectedProgress(%d, %d) = %v, want %v", c.k, c.n, got, c.want)
		}
	}
}

func TestStatusForResearchVector(t *testing.T) {
	// Week 6 of 13: e = 0.4615; p = 0.30 → gap 0.16 → at risk.
	e := ExpectedProgress(6, 13)
	if gap := e - 0.30; math.Abs(gap-0.16) > 0.005 {
		t.Fatalf("gap %v, want 0.16", gap)
	}
	if got := StatusFor(0.30, e, true); got != StatusAtRisk || string(got) != "at_risk" {
		t.Errorf("week 6 of 13 at 0.30: %q, want at_risk", got)
	}
}

func TestStatusForBoundaries(t *testing.T) {
	for _, c := range []struct {
		name            string
		score, expected float64
		hasValue        bool
		want            Status
	}{
		{"done", 1, 0.5, true, StatusDone},
		{"done beats stale", 1, 1, false, StatusDone},
		{"stale", 0.5, 0.5, false, StatusStale},
		{"stale even when ahead", 0.9, 0.1, false, StatusStale},
		{"ahead", 0.8, 0.5, true, StatusOnTrack},
		{"level", 0.5, 0.5, true, StatusOnTrack},
		// Gaps of exactly 0.10 are on track, including float results a hair above 0.10.
		{"gap 0.6−0.5", 0.5, 0.6, true, StatusOnTrack},
		{"gap 0.4−0.3 (0.10000000000000003)", 0.3, 0.4, true, StatusOnTrack},
		{"gap 0.3−0.2", 0.2, 0.3, true, StatusOnTrack},
		{"gap 1.0−0.9", 0.9, 1.0, true, StatusOnTrack},
		{"gap 0.11", 0.39, 0.5, true, StatusAtRisk},
		{"gap 0.1001", 0.3999, 0.5, true, StatusAtRisk},
		// Gaps of exactly 0.25 are at risk.
		{"gap 0.55−0.3 (0.25000000000000006)", 0.3, 0.55, true, StatusAtRisk},
		{"gap 0.75−0.5", 0.5, 0.75, true, StatusAtRisk},
		{"gap 1.0−0.75", 0.75, 1.0, true, StatusAtRisk},
		{"gap 0.2501", 0.2499, 0.5, true, StatusOffTrack},
		{"gap 0.26", 0.24, 0.5, true, StatusOffTrack},
		{"nothing at the end", 0, 1, true, StatusOffTrack},
	} {
		if got := StatusFor(c.score, c.expected, c.hasValue); got != c.want {
			t.Errorf("%s: StatusFor(%v, %v, %v) = %q, want %q (gap %v)", c.name, c.score, c.expected, c.hasValue, got, c.want, c.expected-c.score)
		}
	}
	// The premise of the tolerance: in float64 these gaps exceed the limits.
	if a, b, c := 0.4, 0.3, 0.55; a-b <= 0.10 || c-b <= 0.25 {
		t.Errorf("expected 0.4−0.3 > 0.10 and 0.55−0.3 > 0.25 in float64, got %v and %v", a-b, c-b)
	}
}

func TestObjectiveScore(t *testing.T) {
	if s, ok := ObjectiveScore([]float64{0.5, 1, 0}); !ok || !near(s, 0.5) {
		t.Errorf("mean: %v, %v", s, ok)
	}
	if s, ok := ObjectiveScore([]float64{0.7}); !ok || s != 0.7 {
		t.Errorf("single: %v, %v", s, ok)
	}
	if s, ok := ObjectiveScore(nil); ok || s != 0 {
		t.Errorf("empty: %v, %v; want 0, false", s, ok)
	}
	// Research vectors as one objective: 0.5 (increase), 1 (decrease 50), 0 (wrong way), 2/3 (threshold).
	th, _ := ThresholdScore([]float64{1.9, 2.0, 2.3}, 2.0, false)
	if s, _ := ObjectiveScore([]float64{0.5, 1, 0, th}); !near(s, (0.5+1+0+2.0/3)/4) || Colour(s) != ColourYellow {
		t.Errorf("mixed objective: %v, %s", s, Colour(s))
	}
}

func TestColourBoundaries(t *testing.T) {
	for _, c := range []struct {
		score float64
		want  string
	}{
		{0, "red"},
		{0.3, "red"},
		{0.34, "red"},
		{0.349, "red"},
		{0.35, "yellow"}, // grade 0.4
		{0.4, "yellow"},
		{0.6, "yellow"},
		{0.64, "yellow"},
		{0.649, "yellow"},
		{0.65, "green"}, // grade 0.7
		{0.7, "green"},
		{1, "green"},
		{1.25, "green"},
		{-0.25, "red"},
		{math.NaN(), "red"},
		{1.0 / 3, "red"},
		{2.0 / 3, "green"},
	} {
		if got := Colour(c.score); got != c.want {
			t.Errorf("Colour(%v) = %q, want %q", c.score, got, c.want)
		}
	}
	// Scores computed rather than written: 0.1+0.25 is 0.35 on paper.
	if got := Colour(0.1 + 0.25); got != ColourYellow {
		t.Errorf("Colour(0.1+0.25) = %q, want yellow", got)
	}
	if got := Colour(0.45 + 0.2); got != ColourGreen {
		t.Errorf("Colour(0.45+0.2) = %q, want green", got)
	}
}
