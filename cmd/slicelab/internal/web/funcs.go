package web

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
	"time"

	"slicelab/cmd/slicelab/internal/web/chart"
)

// pageFuncs are the helpers of the web UI's templates.
var pageFuncs = template.FuncMap{
	// num writes a count or number with thousands separators: 1,840.
	"num": func(v any) string {
		switch x := v.(type) {
		case int:
			return chart.Plain.Format(float64(x))
		case int64:
			return chart.Plain.Format(float64(x))
		case float64:
			return chart.Plain.Format(x)
		case *float64:
			if x == nil {
				return "—"
			}
			return chart.Plain.Format(*x)
		}
		return fmt.Sprint(v)
	},
	// rate writes a share as a percentage ("4.2 %"), "—" when unknown.
	"rate": func(v any) string {
		switch x := v.(type) {
		case float64:
			return chart.Percent.Format(x)
		case *float64:
			if x != nil {
				return chart.Percent.Format(*x)
			}
		}
		return "—"
	},
	// change writes a relative change with its sign ("+12 %").
	"change": func(x *float64) string {
		if x == nil {
			return "—"
		}
		return chart.Change.Format(*x)
	},
	// interval writes a 95 % interval of shares ("3.1–5.6 %").
	"interval": func(ci *[2]float64, signed bool) string {
		if ci == nil {
			return ""
		}
		if signed {
			return chart.Change.Range(ci[0], ci[1])
		}
		return chart.Percent.Range(ci[0], ci[1])
	},
	"words": func(v any) string { return strings.ReplaceAll(fmt.Sprint(v), "_", " ") },
	"color": chart.Color,
	"date":  func(t time.Time) string { return t.Format("Mon 2 Jan 2006") },
	"when": func(t *time.Time) string {
		if t == nil {
			return "—"
		}
		return t.UTC().Format("2 Jan 2006, 15:04 UTC")
	},
	"add": func(a, b int) int { return a + b },
	// dot is the class that colours a variant's dot (app.css), by its
	// chart colour: pages carry no inline styles (the CSP allows none).
	"dot": func(color string) string { return "dot-" + strings.ToLower(strings.TrimPrefix(color, "#")) },
	// progressbar draws a KR's score (0–1) against its expected progress
	// as a small SVG bar with a marker.
	"progressbar": func(score, expected float64) template.HTML {
		x := func(v float64) string {
			return strconv.FormatFloat(math.Round(math.Max(0, math.Min(1, v))*1000)/10, 'f', -1, 64)
		}
		return template.HTML(`<svg class="kr-bar" viewBox="0 0 100 10" preserveAspectRatio="none" width="96" height="10" role="img" aria-label="score ` +
			chart.Percent.Format(score) + `, expected ` + chart.Percent.Format(expected) + `"><rect width="100" height="10" rx="2" fill="#e8e8e8"/>` +
			`<rect width="` + x(score) + `" height="10" rx="2" fill="#0072B2"/><rect x="` + x(expected) + `" y="0" width="1.5" height="10" fill="#000"/></svg>`) // #nosec G203 -- numbers only
	},
	// numraw writes a number as a form field holds it ("" for none).
	"numraw": func(p *float64) string {
		if p == nil {
			return ""
		}
		return strconv.FormatFloat(*p, 'f', -1, 64)
	},
	// dur writes a duration such as "72h0m0s" in words: "72 hours".
	"dur": func(s string) string {
		d, err := time.ParseDuration(s)
		switch {
		case err != nil:
			return s
		case d%time.Hour == 0:
			h := int(d / time.Hour)
			if h == 1 {
				return "1 hour"
			}
			return strconv.Itoa(h) + " hours"
		case d%time.Minute == 0:
			return strconv.Itoa(int(d/time.Minute)) + " minutes"
		}
		return d.String()
	},
	// period writes an objective's period: "2026-Q4", or its dates.
	"period": func(label string) string {
		a, b, ok := strings.Cut(label, "/")
		if !ok {
			return label
		}
		s, err1 := time.Parse(time.DateOnly, a)
		e, err2 := time.Parse(time.DateOnly, b)
		if err1 != nil || err2 != nil {
			return label
		}
		if s.Year() == e.Year() {
			return s.Format("2 Jan") + " – " + e.Format("2 Jan 2006")
		}
		return s.Format("2 Jan 2006") + " – " + e.Format("2 Jan 2006")
	},
	// krval writes a key result's number in its unit: a rate of a ctr
	// source (or a "%" unit with values up to 1) as a percentage.
	"krval": func(source, unit string, v *float64) string {
		if v == nil {
			return "—"
		}
		if source == "ctr" || (unit == "%" && *v <= 1 && *v >= -1) {
			return chart.Percent.Format(*v)
		}
		return chart.Plain.Format(*v)
	},
	"mul100": func(x any) float64 {
		switch v := x.(type) {
		case float64:
			return 100 * v
		case *float64:
			if v != nil {
				return 100 * *v
			}
		}
		return 0
	},
	"list":  func(xs ...int) []int { return xs },
	"roles": func() []string { return []string{"viewer", "editor", "admin"} },
	"deref": func(p *float64) float64 {
		if p == nil {
			return 0
		}
		return *p
	},
	"plural": func(n int, one, many string) string {
		if n == 1 {
			return one
		}
		return many
	},
}
