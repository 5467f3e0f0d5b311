package web

import (
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"slicelab/experiments"
)

func TestIPLimiter(t *testing.T) {
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	l := newIPLimiter(signinEvery, signinBurst, func() time.Time { return now })
	for i := 1; i <= signinBurst; i++ {
		if d := l.wait("192.0.2.1"); d != 0 {
			t.Fatalf("attempt %d must not wait, got %s", i, d)
		}
		l.fail("192.0.2.1")
	}
	d := l.wait("192.0.2.1")
	if d <= 0 || d > signinEvery {
		t.Fatalf("after %d failures the wait is %s, want (0, %s]", signinBurst, d, signinEvery)
	}
	if l.wait("192.0.2.2") != 0 {
		t.Fatal("another address must not wait")
	}
	now = now.Add(signinEvery)
	if l.wait("192.0.2.1") != 0 {
		t.Fatalf("after %s one more try is allowed", signinEvery)
	}
	// A refilled bucket is dropped on the next sweep.
	now = now.Add(time.Hour)
	l.fail("192.0.2.3")
	l.mu.Lock()
	_, kept := l.buckets["192.0.2.1"]
	l.mu.Unlock()
	if kept {
		t.Fatal("an idle, refilled bucket was not evicted")
	}
}

// The limiter is shared by every request: run it from many goroutines
// (go test -race).
func TestIPLimiterConcurrent(t *testing.T) {
	l := newIPLimiter(time.Millisecond, 3, nil)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				ip := "198.51.100." + itoa(i%5)
				l.wait(ip)
				l.fail(ip)
			}
		}()
	}
	wg.Wait()
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"/experiments": "/experiments", "": "/", "https://evil.example/": "/", "//evil.example": "/", "/\\evil": "/",
		"/review?week=2026-W48": "/review?week=2026-W48",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHumanTemplate(t *testing.T) {
	for in, want := range map[string]string{
		`template error: line 1:16: executing "html" at <.Contact.Nmae>: can't evaluate field Nmae in type experiments.Contact`: `Line 1: a contact has no field “Nmae”; did you mean {{.Contact.Name}}?`,
		`template error: line 3:2: executing "text" at <.Contact.Plan>: can't evaluate field Plan in type experiments.Contact`:  `Line 3: a contact has no field “Plan”. Use {{.Contact.Name}}, {{.Contact.Email}} or an attribute from the CSV, such as {{.Contact.Attr "plan"}}.`,
		`is required`: `is required`,
	} {
		if got := humanTemplate(in); got != want {
			t.Errorf("humanTemplate(%q)\n = %q\nwant %q", in, got, want)
		}
	}
}

func f(x float64) *float64 { return &x }

func TestVerdictSentence(t *testing.T) {
	e := &experiments.Experiment{ViabilityMinSample: 100}
	arm := func(name string, control bool, sent, clickers int, ctr, lift, chance *float64) experiments.VariantResult {
		return experiments.VariantResult{ID: uuid.New(), Name: name, Control: control, Weight: 1, Sent: sent, HumanClickers: clickers,
			CTR: ctr, CTRCI: &[2]float64{0.01, 0.2}, Lift: lift, LiftCI: &[2]float64{-0.1, 0.5}, ChanceToBeatControl: chance}
	}
	tests := []struct {
		name string
		r    experiments.Results
		want string
	}{
		{"nothing sent", experiments.Results{Variants: []experiments.VariantResult{arm("control", true, 0, 0, nil, nil, nil), arm("B", false, 0, 0, nil, nil, nil)}},
			"Nothing has been delivered yet"},
		{"too few", experiments.Results{Variants: []experiments.VariantResult{arm("control", true, 40, 4, f(0.1), nil, nil), arm("B", false, 40, 6, f(0.15), f(0.5), f(0.8))}},
			"Not enough data yet: 40 of about"},
		{"B ahead", experiments.Results{Variants: []experiments.VariantResult{arm("control", true, 2000, 100, f(0.05), nil, nil), arm("B", false, 2000, 140, f(0.07), f(0.4), f(0.99))}},
			"B is ahead with 99 % chance to beat control: +40 % clicks"},
		{"control ahead", experiments.Results{Variants: []experiments.VariantResult{arm("control", true, 2000, 140, f(0.07), nil, nil), arm("B", false, 2000, 100, f(0.05), f(-0.29), f(0.01))}},
			"control is ahead: B has only 1 % chance"},
		{"undecided", experiments.Results{Variants: []experiments.VariantResult{arm("control", true, 20000, 1000, f(0.05), nil, nil), arm("B", false, 20000, 1030, f(0.0515), f(0.03), f(0.75))}},
			"No clear winner yet: B has 75 % chance to beat control"},
	}
	for _, tc := range tests {
		got, _ := verdictSentence(e, &tc.r, plannedPerArm(&tc.r))
		if !strings.HasPrefix(got, tc.want) {
			t.Errorf("%s: %q, want it to start with %q", tc.name, got, tc.want)
		}
	}
}

func TestPlanSentence(t *testing.T) {
	p := &experiments.LaunchPlan{Send: 1840, Variants: []experiments.PlanVariant{{Name: "control", Send: 920}, {Name: "numbers", Send: 920}}}
	if got, want := planSentence(p), "Send to 1,840 contacts now: 920 control, 920 numbers."; got != want {
		t.Errorf("planSentence = %q, want %q", got, want)
	}
}

// Request logs name the route of a public link, never its token (a survey
// or set-up link is its member's key).
func TestLogPathLeavesTokensOut(t *testing.T) {
	e := echo.New()
	var got []string
	h := func(c echo.Context) error { got = append(got, logPath(c)); return nil }
	e.GET("/survey/:token", h)
	e.GET("/api/v1/experiments/:id", h)
	for _, p := range []string{"/survey/v2.secret-member-key", "/api/v1/experiments/0193"} {
		e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", p, nil))
	}
	if len(got) != 2 || got[0] != "/survey/[token]" || got[1] != "/api/v1/experiments/0193" {
		t.Fatalf("log paths %q", got)
	}
}
