package chart

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata from the current output")

func f(v float64) *float64 { return &v }

func ci(lo, hi float64) *[2]float64 { return &[2]float64{lo, hi} }

// weeks returns n consecutive ISO weeks ending with 2026-W05, spanning the
// turn of the year (2025 has 52 ISO weeks).
func weeks(vals, expected []*float64) []TrendPoint {
	ps := make([]TrendPoint, len(vals))
	for i := range ps {
		w := 5 - (len(vals) - 1 - i)
		year := 2026
		if w <= 0 {
			w, year = w+52, 2025
		}
		ps[i] = TrendPoint{Week: fmt.Sprintf("%d-W%02d", year, w), Value: vals[i]}
		if expected != nil {
			ps[i].Expected = expected[i]
		}
	}
	return ps
}

func days(n int) []time.Time {
	ds := make([]time.Time, n)
	for i := range ds {
		ds[i] = time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i)
	}
	return ds
}

// cases are the golden charts: testdata/<name>.svg (or .html) holds each
// one's expected output.
var cases = []struct {
	name string
	draw func() template.HTML
}{
	{"interval_ctr.svg", func() template.HTML {
		return Interval(IntervalChart{
			Title: "Click-through rate per variant", Unit: Percent,
			AxisLabel: "click-through rate (human unique clickers ÷ delivered)",
			Reference: &Reference{Value: 0.042, Label: "control 4.2 %"},
			Rows: []IntervalRow{
				{Label: "control", Estimate: f(0.042), CI: ci(0.031, 0.056)},
				{Label: "numbers in subject", Estimate: f(0.051), CI: ci(0.039, 0.066)},
				{Label: "question", Estimate: f(0.034), CI: ci(0.024, 0.047)},
			},
		})
	}},
	{"interval_lift.svg", func() template.HTML {
		return Interval(IntervalChart{
			Title: "Lift against control", Unit: Change,
			AxisLabel: "relative change of the click-through rate",
			Reference: &Reference{Value: 0, Label: "no change"},
			Rows: []IntervalRow{
				{Label: "numbers in subject", Estimate: f(0.12), CI: ci(-0.02, 0.30), Color: Orange},
				{Label: "question", Estimate: f(-0.18), CI: ci(-0.35, 0.01), Color: Green},
				{Label: "emoji", Note: "not enough data: 38 % of the planned sample", Color: Red},
			},
		})
	}},
	{"interval_clipped.svg", func() template.HTML {
		return Interval(IntervalChart{
			Title: "Lift against control", Unit: Change, Min: f(-0.5), Max: f(0.5),
			Reference: &Reference{Value: 0, Label: "no change"},
			Rows: []IntervalRow{
				{Label: "wide", Estimate: f(0.1), CI: ci(-0.9, 1.4)},
				{Label: "high", Estimate: f(0.7), CI: ci(0.2, 1.1)},
			},
		})
	}},
	{"interval_one.svg", func() template.HTML {
		return Interval(IntervalChart{Title: "Click-through rate", Unit: Percent,
			Rows: []IntervalRow{{Label: "control", Estimate: f(0.125)}}})
	}},
	{"interval_zeros.svg", func() template.HTML {
		return Interval(IntervalChart{Title: "Click-through rate per variant", Unit: Percent,
			Reference: &Reference{Value: 0, Label: "control"},
			Rows: []IntervalRow{
				{Label: "control", Estimate: f(0), CI: ci(0, 0)},
				{Label: "variant", Estimate: f(0), CI: ci(0, 0)},
			}})
	}},
	{"trend_kr.svg", func() template.HTML {
		return Trend(TrendChart{
			Title: "Weekly human clickers", Unit: Unit{Suffix: "clickers"}, Target: f(200),
			Points: weeks(
				[]*float64{f(40), f(55), nil, f(90), f(104), f(131), f(150), f(163)},
				[]*float64{f(25), f(50), f(75), f(100), f(125), f(150), f(175), f(200)}),
		})
	}},
	{"trend_ktlo.svg", func() template.HTML {
		return Trend(TrendChart{
			Title: "KTLO share of the team's time", Unit: Percent, Label: "KTLO share",
			Points: weeks([]*float64{f(0.42), f(0.38), f(0.45), f(0.36), f(0.33), nil, f(0.31), f(0.35), f(0.30), f(0.28), f(0.32), f(0.27), f(0.25)}, nil),
		})
	}},
	{"trend_gap_end.svg", func() template.HTML {
		return Trend(TrendChart{
			Title: "Signups", Target: f(20),
			Points: weeks([]*float64{f(12), f(18), f(19.5), nil}, []*float64{f(5), f(10), f(15), f(20)}),
		})
	}},
	{"sparkline.svg", func() template.HTML {
		return Sparkline(TrendChart{Title: "Weekly human clickers, last 6 weeks",
			Points: weeks([]*float64{f(90), f(104), nil, f(150), f(163), f(171)}, []*float64{f(100), f(125), f(150), f(175), f(200), f(225)})})
	}},
	{"sparkline_percent.svg", func() template.HTML {
		return Sparkline(TrendChart{Title: "CTR", Unit: Percent,
			Points: weeks([]*float64{f(0.031), f(0.035), f(0.042)}, nil)})
	}},
	{"sparkline_empty.svg", func() template.HTML {
		return Sparkline(TrendChart{Title: "Signups", Points: weeks([]*float64{nil, nil}, nil)})
	}},
	{"stacked_mix.svg", func() template.HTML {
		return StackedBar(StackedBarChart{
			Title: "Elective time this week against the target mix", Unit: Percent, Max: f(1),
			Segments: []string{"New", "Improve", "Productivity"},
			Rows:     []StackedRow{{Values: []float64{0.48, 0.32, 0.20}, Targets: []float64{0.6, 0.2, 0.2}}},
		})
	}},
	{"stacked_contrib.svg", func() template.HTML {
		return StackedBar(StackedBarChart{
			Title: "Contributions of each experiment to weekly human clickers", Unit: Unit{Suffix: "clickers"},
			Segments: []string{"Digest subject test", "Onboarding tips", "Pricing insight"},
			Rows: []StackedRow{
				{Label: "2026-W03", Values: []float64{60.5, 40, 30.5}},
				{Label: "2026-W04", Values: []float64{70, 35.5, 44.5}},
				{Label: "2026-W05", Values: []float64{81, 12, 70}},
			},
		})
	}},
	{"daily_sends.svg", func() template.HTML {
		return DailyBars(DailyChart{
			Title: "First human clicks per day", YLabel: "first human clicks per day", Days: days(7),
			Series: []DailySeries{
				{Name: "control", Values: []float64{42, 31, 18, 12, 8, 5, 3}},
				{Name: "numbers in subject", Values: []float64{51, 38, 22, 15, 9, 6, 2}},
				{Name: "question", Values: []float64{35, 27, 14, 9, 6, 4, 2}},
			},
		})
	}},
	{"daily_lines.svg", func() template.HTML {
		c := DailyChart{Title: "Sends per day", Unit: Unit{Suffix: "sends per day"}, Days: days(30)}
		for i, name := range []string{"control", "numbers in subject", "question"} {
			s := DailySeries{Name: name}
			for d := range 30 {
				s.Values = append(s.Values, float64((d*37+i*11)%50+400-20*i))
			}
			c.Series = append(c.Series, s)
		}
		return DailyBars(c)
	}},
	{"progress.html", func() template.HTML {
		return Progress(ProgressBar{Sent: 1204, Failed: 12, Queued: 624, Rate: 18.25})
	}},
	{"progress_done.html", func() template.HTML {
		return Progress(ProgressBar{Sent: 1840, Failed: 0, Queued: 0})
	}},
	{"progress_sending.html", func() template.HTML {
		return Progress(ProgressBar{Sent: 600, Failed: 3, Sending: 40, Queued: 1197, Rate: 42.5})
	}},
}

func TestGolden(t *testing.T) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := []byte(c.draw())
			if !bytes.Equal(got, []byte(c.draw())) {
				t.Fatal("two drawings of the same chart differ")
			}
			path := filepath.Join("testdata", c.name)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./cmd/slicelab/internal/web/chart -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the golden file; if the change is intended, look at it, then run go test ./cmd/slicelab/internal/web/chart -update\n got: %s", path, got)
			}
		})
	}
}

// wellFormed decodes s as XML to its end.
func wellFormed(s string) error {
	d := xml.NewDecoder(strings.NewReader(s))
	d.Strict = true
	for {
		_, err := d.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func TestWellFormedAndAccessible(t *testing.T) {
	for _, c := range cases {
		out := string(c.draw())
		if err := wellFormed(out); err != nil {
			t.Errorf("%s: not well-formed XML: %v", c.name, err)
		}
		for _, want := range []string{`role="img"`, `aria-label="`, "<title>", "<desc>", "viewBox="} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: no %s", c.name, want)
			}
		}
	}
}

func TestEscaping(t *testing.T) {
	evil := `<script>alert("x")</script> & 'co'`
	outs := []template.HTML{
		Interval(IntervalChart{Title: evil, Unit: Percent, AxisLabel: evil, Reference: &Reference{Value: 0.1, Label: evil},
			Rows: []IntervalRow{{Label: evil, Estimate: f(0.1), CI: ci(0, 0.2), Note: evil}, {Label: evil, Note: evil}}}),
		Trend(TrendChart{Title: evil, Unit: Unit{Suffix: evil}, Label: evil, Target: f(1), Points: []TrendPoint{{Week: evil, Value: f(1), Expected: f(1)}}}),
		Sparkline(TrendChart{Title: evil, Unit: Unit{Suffix: evil}, Points: []TrendPoint{{Week: evil, Value: f(1)}}}),
		StackedBar(StackedBarChart{Title: evil, Unit: Unit{Suffix: evil}, Segments: []string{evil, evil},
			Rows: []StackedRow{{Label: evil, Values: []float64{1, 2}, Targets: []float64{1, 2}}, {Label: evil, Values: []float64{3}}}}),
		DailyBars(DailyChart{Title: evil, YLabel: evil, Days: days(2), Series: []DailySeries{{Name: evil, Values: []float64{1, 2}}}}),
		Progress(ProgressBar{Title: evil, Sent: 1}),
	}
	for i, out := range outs {
		s := string(out)
		if strings.Contains(s, "<script") || strings.Contains(s, `alert("`) {
			t.Errorf("chart %d: label not escaped:\n%s", i, s)
		}
		if !strings.Contains(s, "&lt;script&gt;") {
			t.Errorf("chart %d: escaped label missing", i)
		}
		if err := wellFormed(s); err != nil {
			t.Errorf("chart %d: not well-formed XML: %v", i, err)
		}
	}
}

func TestEmptyInputs(t *testing.T) {
	for i, out := range []template.HTML{
		Interval(IntervalChart{}), Trend(TrendChart{}), Sparkline(TrendChart{}),
		StackedBar(StackedBarChart{}), DailyBars(DailyChart{}), Progress(ProgressBar{}),
	} {
		if err := wellFormed(string(out)); err != nil {
			t.Errorf("chart %d: %v", i, err)
		}
		if strings.Contains(string(out), "NaN") || strings.Contains(string(out), "Inf") {
			t.Errorf("chart %d: NaN or Inf in output:\n%s", i, out)
		}
	}
}

func TestTicks(t *testing.T) {
	for _, tc := range []struct {
		lo, hi float64
		n      int
		want   []float64
		step   float64
	}{
		{0, 10, 5, []float64{0, 2, 4, 6, 8, 10}, 2},
		{0.024, 0.066, 5, []float64{0.02, 0.03, 0.04, 0.05, 0.06, 0.07}, 0.01},
		{-0.35, 0.30, 4, []float64{-0.4, -0.2, 0, 0.2, 0.4}, 0.2},
		{3, 97, 4, []float64{0, 50, 100}, 50},
		{0, 0, 5, []float64{0, 0.2, 0.4, 0.6, 0.8, 1}, 0.2},
		{5, 5, 5, []float64{0, 2, 4, 6, 8, 10}, 2},
		{-1, -1, 2, []float64{-2, -1, 0}, 1},
		{10, 0, 2, []float64{0, 5, 10}, 5},
		{0, 1840, 5, []float64{0, 500, 1000, 1500, 2000}, 500},
	} {
		got, step := ticks(tc.lo, tc.hi, tc.n)
		if step != tc.step || len(got) != len(tc.want) {
			t.Errorf("ticks(%v, %v, %d) = %v step %v, want %v step %v", tc.lo, tc.hi, tc.n, got, step, tc.want, tc.step)
			continue
		}
		for i := range got {
			if d := got[i] - tc.want[i]; d > 1e-9 || d < -1e-9 {
				t.Errorf("ticks(%v, %v, %d) = %v, want %v", tc.lo, tc.hi, tc.n, got, tc.want)
				break
			}
		}
	}
}

func TestScale(t *testing.T) {
	for _, tc := range []struct {
		s    scale
		v, x float64
	}{
		{scale{0, 1, 100, 500}, 0.5, 300},
		{scale{0, 1, 100, 500}, 0, 100},
		{scale{-0.4, 0.4, 0, 800}, 0, 400},
		{scale{0, 200, 206, 44}, 100, 125}, // y axes run downwards
		{scale{0, 200, 206, 44}, 200, 44},
		{scale{3, 3, 10, 20}, 3, 10}, // empty domain
	} {
		if got := tc.s.at(tc.v); got != tc.x {
			t.Errorf("%+v.at(%v) = %v, want %v", tc.s, tc.v, got, tc.x)
		}
	}
}

func TestFormat(t *testing.T) {
	for _, tc := range []struct {
		u    Unit
		v    float64
		want string
	}{
		{Percent, 0.042, "4.2 %"},
		{Percent, 0, "0 %"},
		{Percent, 0.25, "25 %"},
		{Percent, 0.253, "25.3 %"},
		{Percent, 1, "100 %"},
		{Percent, 0.0005, "0.05 %"},
		{Change, 0.12, "+12 %"},
		{Change, 0.123, "+12.3 %"},
		{Change, -0.021, "−2.1 %"},
		{Change, 0, "0 %"},
		{Change, -0.00001, "0 %"}, // no "−0"
		{Plain, 1840, "1,840"},
		{Plain, 1234567, "1,234,567"},
		{Plain, 12.5, "12.5"},
		{Plain, -3, "−3"},
		{Unit{Suffix: "clickers"}, 163, "163 clickers"},
		{Unit{Suffix: "%"}, 35, "35 %"},
	} {
		if got := tc.u.Format(tc.v); got != tc.want {
			t.Errorf("%+v.Format(%v) = %q, want %q", tc.u, tc.v, got, tc.want)
		}
	}
}

func TestRange(t *testing.T) {
	for _, tc := range []struct {
		u      Unit
		lo, hi float64
		want   string
	}{
		{Percent, 0.031, 0.056, "3.1–5.6 %"},
		{Change, -0.02, 0.30, "−2 % to +30 %"},
		{Change, 0.05, 0.304, "+5.0 % to +30.4 %"},
		{Plain, -2, 5, "−2 to 5"},
		{Plain, 1200, 1840, "1,200–1,840"},
		{Change, -6.35, 12.75, "could be as low as −100 %, up to +1,275 %"},
	} {
		if got := tc.u.Range(tc.lo, tc.hi); got != tc.want {
			t.Errorf("%+v.Range(%v, %v) = %q, want %q", tc.u, tc.lo, tc.hi, got, tc.want)
		}
	}
}

func TestTickLabels(t *testing.T) {
	for _, tc := range []struct {
		u          Unit
		lo, hi     float64
		n          int
		wantLabels []string
	}{
		{Percent, 0.02, 0.07, 5, []string{"2 %", "3 %", "4 %", "5 %", "6 %", "7 %"}},
		{Percent, 0, 0.01, 2, []string{"0.0 %", "0.5 %", "1.0 %"}},
		{Change, -0.4, 0.4, 4, []string{"−40 %", "−20 %", "0 %", "+20 %", "+40 %"}},
		{Unit{Suffix: "clickers"}, 0, 200, 4, []string{"0", "50", "100", "150", "200"}},
	} {
		ts, step := ticks(tc.lo, tc.hi, tc.n)
		var got []string
		for _, v := range ts {
			got = append(got, tc.u.format(v, tc.u.tickDecimals(step), tc.u.Percent))
		}
		if !reflect.DeepEqual(got, tc.wantLabels) {
			t.Errorf("tick labels %v..%v = %q, want %q", tc.lo, tc.hi, got, tc.wantLabels)
		}
	}
}

func TestHelpers(t *testing.T) {
	for _, tc := range []struct{ in, week, year string }{
		{"2026-W05", "W05", "2026"}, {"2025-W52", "W52", "2025"}, {"Nov 24", "Nov 24", ""}, {"2026-W", "2026-W", ""},
	} {
		if w, y := isoWeek(tc.in); w != tc.week || y != tc.year {
			t.Errorf("isoWeek(%q) = %q, %q; want %q, %q", tc.in, w, y, tc.week, tc.year)
		}
	}
	ys := []float64{100, 95, 20}
	spread(ys, 15, 0, 200)
	if !reflect.DeepEqual(ys, []float64{110, 95, 20}) {
		t.Errorf("spread = %v", ys)
	}
	ys = []float64{198, 199}
	spread(ys, 15, 0, 200)
	if !reflect.DeepEqual(ys, []float64{185, 200}) {
		t.Errorf("spread at the bound = %v", ys)
	}
	if got := truncate("a very long variant name indeed", 60, 12); got != "a very…" {
		t.Errorf("truncate = %q", got)
	}
	for sec, want := range map[float64]string{34.2: "35 s", 60: "1 min", 3599: "60 min", 7500: "2 h 5 min"} {
		if got := duration(sec); got != want {
			t.Errorf("duration(%v) = %q, want %q", sec, got, want)
		}
	}
	for _, tc := range []struct {
		n, total int
		want     string
	}{{0, 0, "0 %"}, {1, 1000, "<1 %"}, {999, 1000, ">99 %"}, {1204, 1840, "65 %"}} {
		if got := share(tc.n, tc.total); got != tc.want {
			t.Errorf("share(%d, %d) = %q, want %q", tc.n, tc.total, got, tc.want)
		}
	}
	if Color(0) != Blue || Color(6) != Blue || Color(-1) != Sky {
		t.Error("Color does not cycle through the palette")
	}
}
