package experiments

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// verdictArm is one arm of an in-memory Results: sent deliveries (all
// assigned) and human clickers, with a stable id derived from the name.
func verdictArm(name string, control bool, weight float64, sent, clickers int) VariantResult {
	return VariantResult{
		ID:            uuid.NewSHA1(uuid.NameSpaceOID, []byte("verdict-test/"+name)),
		Name:          name,
		Control:       control,
		Weight:        weight,
		Assigned:      sent,
		Sent:          sent,
		HumanClickers: clickers,
	}
}

// verdictResults builds Results from the arms and computes the real
// statistics, as Service.Results does.
func verdictResults(arms ...VariantResult) *Results {
	r := &Results{Variants: arms}
	r.fillStats()
	return r
}

// checkReason fails when a reason is empty, misses one of the wanted
// substrings or carries a formatting error.
func checkReason(t *testing.T, reason string, want ...string) {
	t.Helper()
	if strings.TrimSpace(reason) == "" {
		t.Fatalf("empty reason")
	}
	for _, bad := range []string{"NaN", "%!", "Inf", "<nil>"} {
		if strings.Contains(reason, bad) {
			t.Errorf("reason %q contains %q", reason, bad)
		}
	}
	for _, w := range want {
		if !strings.Contains(reason, w) {
			t.Errorf("reason %q does not contain %q", reason, w)
		}
	}
}

func TestVerdict(t *testing.T) {
	ctr := func(threshold float64, minSample int) *Experiment {
		return &Experiment{ViabilityMetric: "ctr", ViabilityThreshold: threshold, ViabilityMinSample: minSample}
	}
	lift := func(threshold, minChance float64, minSample int) *Experiment {
		return &Experiment{ViabilityMetric: "lift", ViabilityThreshold: threshold,
			ViabilityMinChance: minChance, ViabilityMinSample: minSample}
	}
	tests := []struct {
		name      string
		e         *Experiment
		r         *Results
		state     string
		prefix    string   // the reason starts with it, when set
		reasonHas []string // substrings of the reason
	}{
		{
			name:      "no criterion",
			e:         &Experiment{},
			r:         verdictResults(verdictArm("A", true, 1, 1000, 100), verdictArm("B", false, 1, 1000, 200)),
			state:     VerdictUnknown,
			reasonHas: []string{"no viability criterion"},
		},
		{
			name:      "event rate needs events",
			e:         &Experiment{ViabilityMetric: "event_rate", ViabilityThreshold: 0.05, ViabilityMinSample: 100},
			r:         verdictResults(verdictArm("A", true, 1, 1000, 100), verdictArm("B", false, 1, 1000, 200)),
			state:     VerdictUnknown,
			reasonHas: []string{"event"},
		},
		{
			name:      "treatment below the minimum sample",
			e:         ctr(0.05, 100),
			r:         verdictResults(verdictArm("A", true, 1, 150, 30), verdictArm("Short subject", false, 1, 99, 50)),
			state:     VerdictUnknown,
			prefix:    "not yet known",
			reasonHas: []string{`"Short subject"`, "99", "100"},
		},
		{
			name:      "control below the minimum sample",
			e:         lift(0.1, 0.95, 200),
			r:         verdictResults(verdictArm("Control", true, 1, 120, 12), verdictArm("B", false, 1, 1000, 200)),
			state:     VerdictUnknown,
			prefix:    "not yet known",
			reasonHas: []string{`"Control"`, "120", "200"},
		},
		{
			name: "zero-weight arm with few deliveries does not block",
			e:    ctr(0.1, 100),
			r: verdictResults(verdictArm("A", true, 1, 200, 10), verdictArm("B", false, 1, 200, 30),
				verdictArm("Retired", false, 0, 3, 3)),
			state:     VerdictViable,
			reasonHas: []string{`"B"`, "15.00%", "10.00%"},
		},
		{
			name:      "ctr above the threshold",
			e:         ctr(0.1, 100),
			r:         verdictResults(verdictArm("A", true, 1, 200, 10), verdictArm("B", false, 1, 200, 30)),
			state:     VerdictViable,
			reasonHas: []string{`"B"`, "15.00%", "10.00%"},
		},
		{
			name:      "ctr exactly at the threshold is viable",
			e:         ctr(0.1, 100),
			r:         verdictResults(verdictArm("A", true, 1, 100, 5), verdictArm("B", false, 1, 100, 10)),
			state:     VerdictViable,
			reasonHas: []string{`"B"`, "10.00%"},
		},
		{
			name:      "ctr below the threshold",
			e:         ctr(0.1, 100),
			r:         verdictResults(verdictArm("A", true, 1, 100, 5), verdictArm("B", false, 1, 100, 9)),
			state:     VerdictNotViable,
			reasonHas: []string{`"B"`, "9.00%", "10.00%"},
		},
		{
			name: "ctr judges the best treatment, not the control",
			e:    ctr(0.1, 100),
			r: verdictResults(verdictArm("A", true, 1, 100, 50), verdictArm("B", false, 1, 100, 4),
				verdictArm("C", false, 1, 100, 8)),
			state:     VerdictNotViable,
			reasonHas: []string{`"C"`, "8.00%", "10.00%"},
		},
		{
			name: "ctr picks the best of several treatments",
			e:    ctr(0.1, 100),
			r: verdictResults(verdictArm("A", true, 1, 100, 5), verdictArm("B", false, 1, 100, 4),
				verdictArm("C", false, 1, 100, 12)),
			state:     VerdictViable,
			reasonHas: []string{`"C"`, "12.00%"},
		},
		{
			name:      "one arm judged on the control, viable",
			e:         ctr(0.05, 100),
			r:         verdictResults(verdictArm("Only", true, 1, 400, 40)),
			state:     VerdictViable,
			reasonHas: []string{`"Only"`, "10.00%", "5.00%"},
		},
		{
			name:      "one arm judged on the control, not viable",
			e:         ctr(0.2, 100),
			r:         verdictResults(verdictArm("Only", true, 1, 400, 40)),
			state:     VerdictNotViable,
			reasonHas: []string{`"Only"`, "10.00%", "20.00%"},
		},
		{
			name:      "lift: a clear winner is viable",
			e:         lift(0.1, 0.95, 100),
			r:         verdictResults(verdictArm("A", true, 1, 1000, 100), verdictArm("B", false, 1, 1000, 160)),
			state:     VerdictViable,
			reasonHas: []string{`"B"`, "+60.0%", "+10.0%", "95%"},
		},
		{
			name:      "lift: a big lift on a small sample is not enough",
			e:         lift(0.1, 0.95, 100),
			r:         verdictResults(verdictArm("A", true, 1, 100, 10), verdictArm("B", false, 1, 100, 15)),
			state:     VerdictNotViable,
			reasonHas: []string{`"B"`, "+50.0%", "+10.0%", "95%"},
		},
		{
			name:      "lift: a sure but too small lift is not viable",
			e:         lift(0.5, 0.95, 100),
			r:         verdictResults(verdictArm("A", true, 1, 1000, 100), verdictArm("B", false, 1, 1000, 140)),
			state:     VerdictNotViable,
			reasonHas: []string{`"B"`, "+40.0%", "+50.0%"},
		},
		{
			name:      "lift: a negative lift is not viable",
			e:         lift(0.1, 0.95, 100),
			r:         verdictResults(verdictArm("A", true, 1, 1000, 160), verdictArm("B", false, 1, 1000, 100)),
			state:     VerdictNotViable,
			reasonHas: []string{`"B"`, "-37.5%"},
		},
		{
			name: "lift: the second variant is viable",
			e:    lift(0.1, 0.95, 100),
			r: verdictResults(verdictArm("A", true, 1, 1000, 100), verdictArm("B", false, 1, 1000, 90),
				verdictArm("C", false, 1, 1000, 160)),
			state:     VerdictViable,
			reasonHas: []string{`"C"`, "+60.0%"},
		},
		{
			name:      "lift: a variant without clicks has no chance to report",
			e:         lift(0.1, 0.95, 100),
			r:         verdictResults(verdictArm("A", true, 1, 1000, 100), verdictArm("B", false, 1, 1000, 0)),
			state:     VerdictNotViable,
			reasonHas: []string{`"B"`, "-100.0%", "below"},
		},
		{
			name:      "lift: control without clicks leaves the lift undefined",
			e:         lift(0.1, 0.95, 100),
			r:         verdictResults(verdictArm("A", true, 1, 1000, 0), verdictArm("B", false, 1, 1000, 160)),
			state:     VerdictUnknown,
			reasonHas: []string{"undefined", "control"},
		},
		{
			name:      "unknown criterion",
			e:         &Experiment{ViabilityMetric: "revenue", ViabilityMinSample: 100},
			r:         verdictResults(verdictArm("A", true, 1, 1000, 100), verdictArm("B", false, 1, 1000, 160)),
			state:     VerdictUnknown,
			reasonHas: []string{"revenue"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := verdict(tt.e, tt.r)
			if got.State != tt.state {
				t.Errorf("state = %q, want %q (reason %q)", got.State, tt.state, got.Reason)
			}
			if tt.prefix != "" && !strings.HasPrefix(got.Reason, tt.prefix) {
				t.Errorf("reason %q does not start with %q", got.Reason, tt.prefix)
			}
			checkReason(t, got.Reason, tt.reasonHas...)
		})
	}
}

// TestVerdictDoesNotChangeResults guards against verdict sorting or
// rewriting the variants it judges.
func TestVerdictDoesNotChangeResults(t *testing.T) {
	r := verdictResults(verdictArm("A", true, 1, 1000, 100), verdictArm("B", false, 1, 1000, 90),
		verdictArm("C", false, 1, 1000, 160))
	before := fmt.Sprintf("%+v", *r)
	for _, e := range []*Experiment{
		{ViabilityMetric: "ctr", ViabilityThreshold: 0.1, ViabilityMinSample: 100},
		{ViabilityMetric: "lift", ViabilityThreshold: 0.1, ViabilityMinChance: 0.95, ViabilityMinSample: 100},
	} {
		verdict(e, r)
		if after := fmt.Sprintf("%+v", *r); after != before {
			t.Errorf("%s: verdict changed the results:\n%s\n%s", e.ViabilityMetric, before, after)
		}
	}
}

func TestRuleWinner(t *testing.T) {
	rule := &Experiment{WinnerMinPerArm: 100, WinnerMinChance: 0.95, WinnerFallback: "control"}
	tests := []struct {
		name      string
		e         *Experiment
		r         *Results
		change    func(r *Results) // applied after fillStats
		want      string           // the winner's name; "" for none
		reasonHas []string
	}{
		{
			name:      "clear winner",
			e:         rule,
			r:         verdictResults(verdictArm("A", true, 1, 1000, 100), verdictArm("B", false, 1, 1000, 160)),
			want:      "B",
			reasonHas: []string{`"B"`, "beats the control"},
		},
		{
			name:      "below the minimum per arm",
			e:         rule,
			r:         verdictResults(verdictArm("A", true, 1, 1000, 100), verdictArm("Small", false, 1, 99, 60)),
			reasonHas: []string{`"Small"`, "99", "100"},
		},
		{
			name:      "control below the minimum per arm",
			e:         rule,
			r:         verdictResults(verdictArm("Ctl", true, 1, 50, 5), verdictArm("B", false, 1, 1000, 160)),
			reasonHas: []string{`"Ctl"`, "50", "100"},
		},
		{
			name: "zero-weight arm below the minimum does not block",
			e:    rule,
			r: verdictResults(verdictArm("A", true, 1, 1000, 100), verdictArm("B", false, 1, 1000, 160),
				verdictArm("Retired", false, 0, 0, 0)),
			want:      "B",
			reasonHas: []string{`"B"`},
		},
		{
			name:      "no variant passes",
			e:         rule,
			r:         verdictResults(verdictArm("A", true, 1, 1000, 100), verdictArm("B", false, 1, 1000, 110)),
			reasonHas: []string{"no variant beats the control", "95%"},
		},
		{
			name:      "a losing variant does not win",
			e:         rule,
			r:         verdictResults(verdictArm("A", true, 1, 1000, 160), verdictArm("B", false, 1, 1000, 100)),
			reasonHas: []string{"no variant beats the control"},
		},
		{
			name:      "a variant without clicks does not win",
			e:         rule,
			r:         verdictResults(verdictArm("A", true, 1, 1000, 100), verdictArm("B", false, 1, 1000, 0)),
			reasonHas: []string{"no variant beats the control"},
		},
		{
			name: "the control is never the winner",
			e:    rule,
			r:    verdictResults(verdictArm("A", true, 1, 1000, 100), verdictArm("B", false, 1, 1000, 110)),
			change: func(r *Results) {
				r.Variants[0].ChanceToBeatControl = ptr(0.9999)
			},
			reasonHas: []string{"no variant beats the control"},
		},
		{
			name: "the control is ignored even when it would rank first",
			e:    rule,
			r:    verdictResults(verdictArm("A", true, 1, 1000, 100), verdictArm("B", false, 1, 1000, 160)),
			change: func(r *Results) {
				r.Variants[0].ChanceToBeatControl = ptr(1.0)
			},
			want:      "B",
			reasonHas: []string{`"B"`},
		},
		{
			name: "two pass: the higher chance wins (listed second)",
			e:    rule,
			r: verdictResults(verdictArm("A", true, 1, 1000, 100), verdictArm("B", false, 1, 1000, 140),
				verdictArm("C", false, 1, 1000, 160)),
			want:      "C",
			reasonHas: []string{`"C"`},
		},
		{
			name: "two pass: the higher chance wins (listed first)",
			e:    rule,
			r: verdictResults(verdictArm("C", false, 1, 1000, 160), verdictArm("A", true, 1, 1000, 100),
				verdictArm("B", false, 1, 1000, 140)),
			want:      "C",
			reasonHas: []string{`"C"`},
		},
		{
			name: "one of two passes",
			e:    rule,
			r: verdictResults(verdictArm("A", true, 1, 1000, 100), verdictArm("B", false, 1, 1000, 140),
				verdictArm("C", false, 1, 1000, 105)),
			want:      "B",
			reasonHas: []string{`"B"`},
		},
		{
			name:      "no control",
			e:         rule,
			r:         verdictResults(verdictArm("B", false, 1, 1000, 100), verdictArm("C", false, 1, 1000, 160)),
			reasonHas: []string{"no control"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.change != nil {
				tt.change(tt.r)
			}
			id, reason := ruleWinner(tt.e, tt.r)
			checkReason(t, reason, tt.reasonHas...)
			if tt.want == "" {
				if id != nil {
					t.Fatalf("winner = %v, want none (reason %q)", *id, reason)
				}
				return
			}
			if id == nil {
				t.Fatalf("no winner, want %q (reason %q)", tt.want, reason)
			}
			if want := verdictArm(tt.want, false, 0, 0, 0).ID; *id != want {
				t.Errorf("winner = %v, want %q (%v); reason %q", *id, tt.want, want, reason)
			}
		})
	}
}

// TestRuleWinnerChancesOfTheFixtures makes sure the fixtures above mean what
// they say: both B (140/1000) and C (160/1000) pass 95 %, C more surely, and
// 110/1000 and 105/1000 do not.
func TestRuleWinnerChancesOfTheFixtures(t *testing.T) {
	r := verdictResults(verdictArm("A", true, 1, 1000, 100), verdictArm("B", false, 1, 1000, 140),
		verdictArm("C", false, 1, 1000, 160), verdictArm("D", false, 1, 1000, 110), verdictArm("E", false, 1, 1000, 105))
	chance := map[string]float64{}
	for _, v := range r.Variants[1:] {
		if v.ChanceToBeatControl == nil {
			t.Fatalf("%s: no chance to beat control", v.Name)
		}
		chance[v.Name] = *v.ChanceToBeatControl
	}
	if !(chance["B"] >= 0.95 && chance["C"] > chance["B"] && chance["D"] < 0.95 && chance["E"] < 0.95) {
		t.Errorf("chances %v do not fit the fixtures", chance)
	}
}

func TestDecideWinner(t *testing.T) {
	noWinner := func() *Results {
		return verdictResults(verdictArm("B", false, 1, 1000, 105), verdictArm("Ctl", true, 1, 1000, 100))
	}
	win := func() *Results {
		return verdictResults(verdictArm("Ctl", true, 1, 1000, 100), verdictArm("B", false, 1, 1000, 160))
	}
	tooFew := func() *Results {
		return verdictResults(verdictArm("Ctl", true, 1, 1000, 100), verdictArm("B", false, 1, 10, 9))
	}
	exp := func(fallback string) *Experiment {
		return &Experiment{WinnerMinPerArm: 100, WinnerMinChance: 0.95, WinnerFallback: fallback}
	}
	tests := []struct {
		name      string
		e         *Experiment
		r         *Results
		want      string // the winner's name; "" for none
		suffix    string
		reasonHas []string
	}{
		{"fallback control", exp("control"), noWinner(), "Ctl", "; the control goes to the rest",
			[]string{"no variant beats the control"}},
		{"fallback unset means control", exp(""), noWinner(), "Ctl", "; the control goes to the rest", nil},
		{"fallback control when the arms are too small", exp("control"), tooFew(), "Ctl",
			"; the control goes to the rest", []string{`"B"`, "10", "100"}},
		{"fallback none", exp("none"), noWinner(), "", "; nothing more is sent",
			[]string{"no variant beats the control"}},
		{"fallback none when the arms are too small", exp("none"), tooFew(), "", "; nothing more is sent",
			[]string{`"B"`}},
		{"rule winner with fallback control", exp("control"), win(), "B", "", []string{`"B"`, "beats the control"}},
		{"rule winner with fallback none", exp("none"), win(), "B", "", []string{`"B"`, "beats the control"}},
		{"fallback control without a control", exp("control"),
			verdictResults(verdictArm("B", false, 1, 1000, 100), verdictArm("C", false, 1, 1000, 160)),
			"", "; there is no control, so nothing more is sent", []string{"no control"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, reason := decideWinner(tt.e, tt.r)
			checkReason(t, reason, tt.reasonHas...)
			if tt.suffix != "" && !strings.HasSuffix(reason, tt.suffix) {
				t.Errorf("reason %q does not end with %q", reason, tt.suffix)
			}
			if tt.want == "" {
				if id != nil {
					t.Fatalf("winner = %v, want none (reason %q)", *id, reason)
				}
				return
			}
			if id == nil {
				t.Fatalf("no winner, want %q (reason %q)", tt.want, reason)
			}
			if want := verdictArm(tt.want, false, 0, 0, 0).ID; *id != want {
				t.Errorf("winner = %v, want %q (%v)", *id, tt.want, want)
			}
			// The rule's own reason is kept as is for a rule winner.
			if _, rw := ruleWinner(tt.e, tt.r); tt.suffix == "" && reason != rw {
				t.Errorf("reason %q, want the rule's %q", reason, rw)
			}
		})
	}
}

// TestDecideWinnerReturnsACopy checks that the returned id does not alias
// the results, so that later edits of the results cannot move the winner.
func TestDecideWinnerReturnsACopy(t *testing.T) {
	for _, r := range []*Results{
		verdictResults(verdictArm("Ctl", true, 1, 1000, 100), verdictArm("B", false, 1, 1000, 160)),
		verdictResults(verdictArm("Ctl", true, 1, 1000, 100), verdictArm("B", false, 1, 1000, 100)),
	} {
		id, _ := decideWinner(&Experiment{WinnerMinPerArm: 100, WinnerMinChance: 0.95, WinnerFallback: "control"}, r)
		if id == nil {
			t.Fatal("no winner")
		}
		want := *id
		for i := range r.Variants {
			r.Variants[i].ID = uuid.Nil
		}
		if *id != want {
			t.Errorf("winner id changed with the results: %v, was %v", *id, want)
		}
	}
}

func TestFillStats(t *testing.T) {
	withAssigned := func(v VariantResult, assigned int) VariantResult {
		v.Assigned = assigned
		return v
	}
	tests := []struct {
		name                   string
		arms                   []VariantResult
		flag                   bool
		assignedLow, sentLow   bool // p-value below the 0.001 flag threshold
		assignedNil, deliveNil bool // p-value not computed
	}{
		{
			name: "clear assignment mismatch",
			arms: []VariantResult{withAssigned(verdictArm("A", true, 1, 500, 50), 500),
				withAssigned(verdictArm("B", false, 1, 505, 60), 800)},
			flag: true, assignedLow: true,
		},
		{
			name: "clear delivery mismatch",
			arms: []VariantResult{withAssigned(verdictArm("A", true, 1, 500, 50), 800),
				withAssigned(verdictArm("B", false, 1, 800, 60), 810)},
			flag: true, sentLow: true,
		},
		{
			name: "both mismatched",
			arms: []VariantResult{verdictArm("A", true, 1, 500, 50), verdictArm("B", false, 1, 800, 60)},
			flag: true, assignedLow: true, sentLow: true,
		},
		{
			name: "balanced",
			arms: []VariantResult{withAssigned(verdictArm("A", true, 1, 490, 50), 500),
				withAssigned(verdictArm("B", false, 1, 500, 60), 510)},
		},
		{
			name: "balanced 1:2 weights, control listed last",
			arms: []VariantResult{verdictArm("B", false, 2, 1010, 120), verdictArm("A", true, 1, 500, 50)},
		},
		{
			name: "1:1 weights with a 1:2 split",
			arms: []VariantResult{verdictArm("B", false, 1, 1000, 120), verdictArm("A", true, 1, 500, 50)},
			flag: true, assignedLow: true, sentLow: true,
		},
		{
			name:        "one arm: nothing to check",
			arms:        []VariantResult{verdictArm("A", true, 1, 500, 50)},
			assignedNil: true, deliveNil: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := verdictResults(tt.arms...)
			if r.SRM.Flag != tt.flag {
				t.Errorf("SRM flag = %v, want %v (%+v)", r.SRM.Flag, tt.flag, r.SRM)
			}
			checkP := func(what string, p *float64, isNil, low bool) {
				t.Helper()
				if isNil {
					if p != nil {
						t.Errorf("%s p-value = %v, want nil", what, *p)
					}
					return
				}
				if p == nil {
					t.Fatalf("%s p-value is nil", what)
				}
				if *p < 0 || *p > 1 {
					t.Errorf("%s p-value %v outside [0, 1]", what, *p)
				}
				if (*p < 0.001) != low {
					t.Errorf("%s p-value = %v, want below 0.001: %v", what, *p, low)
				}
			}
			checkP("assigned", r.SRM.AssignedPValue, tt.assignedNil, tt.assignedLow)
			checkP("delivered", r.SRM.DeliveredPValue, tt.deliveNil, tt.sentLow)

			for _, v := range r.Variants {
				if v.CTR == nil || v.CTRCI == nil {
					t.Fatalf("%s: CTR %v, CI %v; want both", v.Name, v.CTR, v.CTRCI)
				}
				if want := float64(v.HumanClickers) / float64(v.Sent); *v.CTR != want {
					t.Errorf("%s: CTR = %v, want %v", v.Name, *v.CTR, want)
				}
				if lo, hi := v.CTRCI[0], v.CTRCI[1]; !(0 <= lo && lo <= *v.CTR && *v.CTR <= hi && hi <= 1) {
					t.Errorf("%s: CTR %v outside its CI [%v, %v]", v.Name, *v.CTR, lo, hi)
				}
				cmp := map[string]bool{
					"absolute_diff":          v.AbsoluteDiff != nil,
					"lift":                   v.Lift != nil,
					"lift_ci":                v.LiftCI != nil,
					"p_value":                v.PValue != nil,
					"p_value_adjusted":       v.PValueAdjusted != nil,
					"lift_ci_adjusted":       v.LiftCIAdjusted != nil,
					"chance_to_beat_control": v.ChanceToBeatControl != nil,
					"expected_loss":          v.ExpectedLoss != nil,
				}
				for field, set := range cmp {
					if v.Control && set {
						t.Errorf("control %s: %s is set, want nil", v.Name, field)
					}
					if !v.Control && !set {
						t.Errorf("variant %s: %s is nil, want a value", v.Name, field)
					}
				}
			}
		})
	}
}

// TestFillStatsComparisons checks that each treatment gets its own
// comparison with the control wherever the control is listed.
func TestFillStatsComparisons(t *testing.T) {
	r := verdictResults(verdictArm("C", false, 1, 1000, 160), verdictArm("A", true, 1, 1000, 100),
		verdictArm("B", false, 1, 1000, 90))
	byName := map[string]VariantResult{}
	for _, v := range r.Variants {
		byName[v.Name] = v
	}
	if c := byName["C"]; c.Lift == nil || !near(*c.Lift, 0.6) || c.AbsoluteDiff == nil || !near(*c.AbsoluteDiff, 0.06) ||
		c.ChanceToBeatControl == nil || *c.ChanceToBeatControl < 0.99 {
		t.Errorf("C: lift %v, diff %v, chance %v; want +60%%, +0.06, > 99%%", c.Lift, c.AbsoluteDiff, c.ChanceToBeatControl)
	}
	if b := byName["B"]; b.Lift == nil || !near(*b.Lift, -0.1) || b.ChanceToBeatControl == nil || *b.ChanceToBeatControl > 0.5 {
		t.Errorf("B: lift %v, chance %v; want -10%%, < 50%%", b.Lift, b.ChanceToBeatControl)
	}
	if a := byName["A"]; a.CTR == nil || *a.CTR != 0.1 || a.Lift != nil || a.ChanceToBeatControl != nil {
		t.Errorf("control A: CTR %v, lift %v, chance %v; want 0.1, nil, nil", a.CTR, a.Lift, a.ChanceToBeatControl)
	}
	for _, name := range []string{"B", "C"} {
		v := byName[name]
		if v.PValue == nil || v.PValueAdjusted == nil || *v.PValueAdjusted < *v.PValue {
			t.Errorf("%s: p %v, Holm-adjusted %v; want adjusted >= raw", name, v.PValue, v.PValueAdjusted)
		}
	}
}

// TestFillStatsNoDeliveries: arms that sent nothing have no CTR and no
// comparison, and nothing is NaN.
func TestFillStatsNoDeliveries(t *testing.T) {
	r := verdictResults(verdictArm("A", true, 1, 0, 0), verdictArm("B", false, 1, 0, 0))
	for _, v := range r.Variants {
		if v.CTR != nil || v.CTRCI != nil || v.Lift != nil || v.ChanceToBeatControl != nil {
			t.Errorf("%s: %+v, want no statistics", v.Name, v)
		}
	}
	if r.SRM.Flag || r.SRM.AssignedPValue != nil || r.SRM.DeliveredPValue != nil {
		t.Errorf("SRM = %+v, want nothing", r.SRM)
	}
	got := verdict(&Experiment{ViabilityMetric: "ctr", ViabilityThreshold: 0.1, ViabilityMinSample: 100}, r)
	if got.State != VerdictUnknown || !strings.HasPrefix(got.Reason, "not yet known") {
		t.Errorf("verdict = %+v, want not yet known", got)
	}
}

func near(a, b float64) bool {
	d := a - b
	return d < 1e-9 && d > -1e-9
}

// TestVerdictLiftWithUndefinedChance: a variant whose every delivery was
// clicked has a huge lift, but its chance to beat the control is undefined
// (zero variance, as in GrowthBook). The verdict must not call it not viable.
func TestVerdictLiftWithUndefinedChance(t *testing.T) {
	e := &Experiment{ViabilityMetric: "lift", ViabilityThreshold: 0.1, ViabilityMinChance: 0.95, ViabilityMinSample: 100}
	r := verdictResults(verdictArm("A", true, 1, 100, 10), verdictArm("B", false, 1, 100, 100))
	if got := verdict(e, r); got.State == VerdictNotViable {
		t.Errorf("verdict = %+v, want unknown or viable", got)
	}
}

// TestReasonsStateTheMinimumChanceExactly: a minimum chance of 97.5 % must
// not be reported as 98 %.
func TestReasonsStateTheMinimumChanceExactly(t *testing.T) {
	r := verdictResults(verdictArm("A", true, 1, 1000, 100), verdictArm("B", false, 1, 1000, 105))
	if _, why := ruleWinner(&Experiment{WinnerMinPerArm: 100, WinnerMinChance: 0.975}, r); !strings.Contains(why, "97.5%") {
		t.Errorf("ruleWinner reason %q does not state 97.5%%", why)
	}
	e := &Experiment{ViabilityMetric: "lift", ViabilityThreshold: 0.1, ViabilityMinChance: 0.975, ViabilityMinSample: 100}
	if got := verdict(e, r); !strings.Contains(got.Reason, "97.5%") {
		t.Errorf("verdict reason %q does not state 97.5%%", got.Reason)
	}
}
