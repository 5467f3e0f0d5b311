// Package chart draws charts as SVG markup on the server, for pages rendered
// with html/template. Every chart is a function that takes a plain input
// struct and returns template.HTML; every text it inserts is escaped.
//
// The charts follow the page brief (ui.md): shared axes with round ticks and
// units, the colour-blind-safe Okabe–Ito palette with every colour paired
// with a word or a shape, a <title>, a <desc> and an aria-label that carry
// the numbers for screen readers, and a viewBox so they scale to the width
// of their container. The output is deterministic: the same input always
// gives the same bytes, which the golden-file tests rely on.
package chart

import (
	"fmt"
	"html/template"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The Okabe–Ito colours, safe for the common colour-vision deficiencies.
const (
	Blue   = "#0072B2"
	Orange = "#E69F00"
	Green  = "#009E73"
	Red    = "#D55E00"
	Purple = "#CC79A7"
	Sky    = "#56B4E9"
)

var palette = [...]string{Blue, Orange, Green, Red, Purple, Sky}

// Color returns the colour of the i-th series (variant, segment): the
// Okabe–Ito colours in the order Blue, Orange, Green, Red, Purple, Sky,
// repeating. Pages use it to colour a variant's name the way its charts do.
func Color(i int) string { return palette[((i%len(palette))+len(palette))%len(palette)] }

// inkOn returns a text colour that reads on a fill of colour c (contrast
// of at least 4.5:1): white on blue, black on the lighter colours.
func inkOn(c string) string {
	if c == Blue {
		return "#fff"
	}
	return "#000"
}

// Shared drawing constants.
const (
	fontStack = "system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif"
	ink       = "#333"    // text
	muted     = "#595959" // secondary text, still 7:1 on white
	axisInk   = "#8c8c8c" // axis lines and tick marks
	grid      = "#e6e6e6" // grid lines
	band      = "#f5f5f5" // alternate row background
	empty     = "#e8e8e8" // unfilled part of a bar
	fontSize  = 12.0
	smallSize = 11.0
	width     = 720.0 // viewBox width of the full-size charts
	minus     = "\u2212"
	enDash    = "\u2013"
)

// Unit says how a chart writes its numbers, on the axis and in labels.
type Unit struct {
	// Percent writes values as percentages of 1: 0.042 is "4.2 %".
	Percent bool
	// Signed writes a plus sign before positive values, for changes such
	// as a lift: 0.12 is "+12 %".
	Signed bool
	// Suffix follows every number after a space, e.g. "clickers" or "€".
	// It is ignored when Percent is set.
	Suffix string
}

// Common units.
var (
	Plain   = Unit{}                            // 1,840
	Percent = Unit{Percent: true}               // 4.2 %
	Change  = Unit{Percent: true, Signed: true} // +12 %, −2.1 %
)

func (u Unit) mult() float64 {
	if u.Percent {
		return 100
	}
	return 1
}

func (u Unit) suffix() string {
	if u.Percent {
		return " %"
	}
	if u.Suffix != "" {
		return " " + u.Suffix
	}
	return ""
}

// Format writes v in the unit with as many decimals as its size needs
// (none from 100 up, one from 1, two below 1, no trailing zeros), a real
// minus sign and thousands separators: "4.2 %", "+12 %", "−2.1 %",
// "1,840 clickers".
func (u Unit) Format(v float64) string { return u.format(v, u.decimals(v), true) }

// Range writes an interval: "3.1–5.6 %" when both ends are positive, and
// "−2.1 % to +30.4 %" when a sign must be written. Both ends get the
// decimals that the larger one needs.
//
// A relative change cannot fall below −100 % (nothing left); an interval
// whose lower end does is written as such in words: "could be as low as
// −100 %, up to +66 %".
func (u Unit) Range(lo, hi float64) string {
	if u == Change && lo < -1 {
		return "could be as low as " + u.format(-1, 0, true) + ", up to " + u.format(hi, u.decimals(hi), true)
	}
	return u.rangeWith(lo, hi, u.decimals(lo, hi))
}

// rangeWith writes an interval with d decimals.
func (u Unit) rangeWith(lo, hi float64, d int) string {
	if lo >= 0 && !u.Signed {
		return u.format(lo, d, false) + enDash + u.format(hi, d, true)
	}
	return u.format(lo, d, true) + " to " + u.format(hi, d, true)
}

// decimals returns the number of decimals for writing the values together:
// none for magnitudes of 100 or more, two below 1, one otherwise; then
// fewer while the values need none of them ("12 %", not "12.0 %").
func (u Unit) decimals(vs ...float64) int {
	m := 0.0
	for _, v := range vs {
		m = math.Max(m, math.Abs(v*u.mult()))
	}
	d := 1
	switch {
	case m >= 100:
		d = 0
	case m < 1 && m > 0:
		d = 2
	}
	for ; d > 0; d-- {
		for _, v := range vs {
			// v with d decimals, as a whole number: its last digit must be 0.
			if math.Mod(math.Round(v*u.mult()*math.Pow(10, float64(d))), 10) != 0 {
				return d
			}
		}
	}
	return 0
}

// tickDecimals returns the decimals that tell ticks step apart.
func (u Unit) tickDecimals(step float64) int {
	return max(0, int(-math.Floor(math.Log10(step*u.mult())+1e-9)))
}

// format writes v with dec decimals, a real minus sign, thousands
// separators, a plus sign for Signed units and, with unit, the suffix.
func (u Unit) format(v float64, dec int, unit bool) string {
	s := strconv.FormatFloat(math.Abs(v*u.mult()), 'f', dec, 64)
	intPart, frac, _ := strings.Cut(s, ".")
	for i := len(intPart) - 3; i > 0; i -= 3 {
		intPart = intPart[:i] + "," + intPart[i:]
	}
	if frac != "" {
		intPart += "." + frac
	}
	zero := strings.Trim(s, "0.") == ""
	switch {
	case zero:
	case v < 0:
		intPart = minus + intPart
	case u.Signed:
		intPart = "+" + intPart
	}
	if unit {
		intPart += u.suffix()
	}
	return intPart
}

// ticks returns round tick values (steps of 1, 2 or 5 × 10^k) that cover
// [lo, hi] with about n intervals; the first and last ticks are the bounds
// of the axis. An empty range is widened so that the axis still has ticks.
func ticks(lo, hi float64, n int) (ts []float64, step float64) {
	if math.IsNaN(lo) || math.IsNaN(hi) || math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		lo, hi = 0, 1
	}
	if hi < lo {
		lo, hi = hi, lo
	}
	if hi-lo < 1e-12 {
		switch {
		case lo == 0:
			hi = 1
		case lo > 0:
			lo, hi = 0, 2*lo
		default:
			lo, hi = 2*lo, 0
		}
	}
	raw := (hi - lo) / float64(max(n, 1))
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step = 10 * mag
	for _, m := range []float64{1, 2, 5} {
		if m*mag >= raw*(1-1e-9) {
			step = m * mag
			break
		}
	}
	first, last := math.Floor(lo/step+1e-9), math.Ceil(hi/step-1e-9)
	for i := first; i <= last; i++ {
		t := i * step
		if math.Abs(t) < step*1e-9 {
			t = 0 // no "−0"
		}
		ts = append(ts, t)
	}
	return ts, step
}

// extent returns the smallest and largest of the values, and false when
// there are none.
func extent(vs []float64) (lo, hi float64, ok bool) {
	for i, v := range vs {
		if i == 0 || v < lo {
			lo = v
		}
		if i == 0 || v > hi {
			hi = v
		}
	}
	return lo, hi, len(vs) > 0
}

// scale maps the domain [d0, d1] linearly onto the range [r0, r1].
type scale struct{ d0, d1, r0, r1 float64 }

func (s scale) at(v float64) float64 {
	if s.d1 == s.d0 {
		return s.r0
	}
	return s.r0 + (v-s.d0)/(s.d1-s.d0)*(s.r1-s.r0)
}

// clamp returns v within [lo, hi].
func clamp(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }

// textWidth estimates the width of s at the given font size; system fonts
// average a little over half an em per character.
func textWidth(s string, size float64) float64 {
	return float64(utf8.RuneCountInString(s)) * size * 0.6
}

// truncate shortens s with an ellipsis so that it fits w.
func truncate(s string, w, size float64) string {
	if textWidth(s, size) <= w {
		return s
	}
	r := []rune(s)
	n := max(1, int(w/(size*0.6))-1)
	if n >= len(r) {
		return s
	}
	return strings.TrimSpace(string(r[:n])) + "…"
}

// spread moves the positions ys apart so that neighbours are at least gap
// apart, within [lo, hi], keeping their order; used for end labels.
func spread(ys []float64, gap, lo, hi float64) {
	idx := make([]int, len(ys))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return ys[idx[a]] < ys[idx[b]] })
	for k := range idx {
		if k > 0 {
			ys[idx[k]] = math.Max(ys[idx[k]], ys[idx[k-1]]+gap)
		}
	}
	for k := len(idx) - 1; k >= 0; k-- {
		limit := hi
		if k < len(idx)-1 {
			limit = ys[idx[k+1]] - gap
		}
		ys[idx[k]] = math.Max(lo, math.Min(ys[idx[k]], limit))
	}
}

// num writes a coordinate with at most one decimal (0 for NaN or ±Inf,
// which only bad input can produce).
func num(v float64) string {
	v = math.Round(v*10) / 10
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return "0"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// esc escapes text for an SVG/HTML text node or attribute value.
func esc(s string) string { return template.HTMLEscapeString(s) }

// svg accumulates the markup of one chart.
type svg struct{ b strings.Builder }

// open starts the chart: a viewBox of w × h, its title and description,
// and an aria-label with both. The chart scales to the container's width,
// or with fixed keeps the size w × h.
func (s *svg) open(class string, w, h float64, fixed bool, title, summary string) {
	size := `width="100%"`
	if fixed {
		size = `width="` + num(w) + `" height="` + num(h) + `"`
	}
	fmt.Fprintf(&s.b, `<svg xmlns="http://www.w3.org/2000/svg" class="%s" viewBox="0 0 %s %s" %s role="img" aria-label="%s" font-family="%s" font-size="%s" fill="%s">`,
		class, num(w), num(h), size, esc(title+". "+summary), fontStack, num(fontSize), ink)
	fmt.Fprintf(&s.b, "\n<title>%s</title>\n<desc>%s</desc>\n", esc(title), esc(summary))
}

// close ends the chart and returns its markup.
func (s *svg) close() template.HTML {
	s.b.WriteString("</svg>\n")
	return template.HTML(s.b.String()) // #nosec G203 -- built from escaped parts only
}

// el writes an element with attributes given as name, value pairs (float64
// values are coordinates, strings are escaped) and an optional tooltip.
func (s *svg) el(name, tip string, attrs ...any) {
	s.b.WriteString("<" + name)
	for i := 0; i+1 < len(attrs); i += 2 {
		var v string
		switch a := attrs[i+1].(type) {
		case float64:
			v = num(a)
		case int:
			v = strconv.Itoa(a)
		case string:
			v = esc(a)
		default:
			panic(fmt.Sprintf("chart: attribute %v of type %T", attrs[i], a))
		}
		fmt.Fprintf(&s.b, ` %s="%s"`, attrs[i], v)
	}
	if tip == "" {
		s.b.WriteString("/>\n")
		return
	}
	fmt.Fprintf(&s.b, "><title>%s</title></%s>\n", esc(tip), name)
}

// text writes a text element at (x, y) with the given anchor and extra
// attributes.
func (s *svg) text(x, y float64, anchor, txt string, attrs ...any) {
	fmt.Fprintf(&s.b, `<text x="%s" y="%s"`, num(x), num(y))
	if anchor != "start" {
		fmt.Fprintf(&s.b, ` text-anchor="%s"`, anchor)
	}
	for i := 0; i+1 < len(attrs); i += 2 {
		fmt.Fprintf(&s.b, ` %s="%s"`, attrs[i], esc(fmt.Sprint(attrs[i+1])))
	}
	fmt.Fprintf(&s.b, ">%s</text>\n", esc(txt))
}

// line writes a line from (x1, y1) to (x2, y2) in colour c and width w;
// dash, when given, is a stroke-dasharray.
func (s *svg) line(x1, y1, x2, y2 float64, c string, w float64, dash string) {
	attrs := []any{"x1", x1, "y1", y1, "x2", x2, "y2", y2, "stroke", c, "stroke-width", w}
	if dash != "" {
		attrs = append(attrs, "stroke-dasharray", dash)
	}
	s.el("line", "", attrs...)
}

// Tick labels carry the percent sign but no free suffix such as
// "clickers": that is written once, as the axis caption.

// xAxis draws vertical grid lines from top to bottom at the ticks, the axis
// line at bottom, and the tick labels under it.
func (s *svg) xAxis(sc scale, ts []float64, step float64, u Unit, top, bottom float64) {
	d := u.tickDecimals(step)
	for _, t := range ts {
		x := sc.at(t)
		s.line(x, top, x, bottom, grid, 1, "")
		s.line(x, bottom, x, bottom+4, axisInk, 1, "")
		s.text(x, bottom+17, "middle", u.format(t, d, u.Percent), "fill", muted)
	}
	s.line(sc.r0, bottom, sc.r1, bottom, axisInk, 1, "")
}

// yAxis draws horizontal grid lines from left to right at the ticks with
// their labels left of the plot.
func (s *svg) yAxis(sc scale, ts []float64, step float64, u Unit, left, right float64) {
	d := u.tickDecimals(step)
	for _, t := range ts {
		y := sc.at(t)
		c := grid
		if t == 0 {
			c = axisInk
		}
		s.line(left, y, right, y, c, 1, "")
		s.text(left-6, y+4, "end", u.format(t, d, u.Percent), "fill", muted)
	}
}

// yTickWidth is the width of the widest y tick label.
func yTickWidth(ts []float64, step float64, u Unit) float64 {
	w, d := 0.0, u.tickDecimals(step)
	for _, t := range ts {
		w = math.Max(w, textWidth(u.format(t, d, u.Percent), fontSize))
	}
	return w
}

// Legend key shapes.
const (
	keySwatch  = iota // filled square: bars and segments
	keyLine           // solid line: a series drawn as a line
	keyLineDot        // solid line with a dot: a series with a dot per value
	keyDashed         // dashed line: an expected or reference value
	keyMarker         // black triangles: a target marker
)

type key struct {
	label string
	color string
	shape int
}

// legend writes the keys in a row from (x, y), wrapping at maxX, and
// returns the y below the last row.
func (s *svg) legend(x, y, maxX float64, keys []key) float64 {
	cx := x
	for _, k := range keys {
		w := 22 + textWidth(k.label, fontSize) + 16
		if cx > x && cx+w > maxX {
			cx, y = x, y+18
		}
		switch k.shape {
		case keySwatch:
			s.el("rect", "", "x", cx, "y", y-10, "width", 12.0, "height", 12.0, "rx", 2.0, "fill", k.color)
		case keyLine, keyLineDot:
			s.line(cx, y-4, cx+16, y-4, k.color, 2.5, "")
			if k.shape == keyLineDot {
				s.el("circle", "", "cx", cx+8, "cy", y-4, "r", 3.5, "fill", k.color)
			}
		case keyDashed:
			s.line(cx, y-4, cx+16, y-4, k.color, 1.5, "4 3")
		case keyMarker:
			s.targetMarker(cx+8, y-5, y-4)
		}
		s.text(cx+22, y, "start", k.label)
		cx += w
	}
	return y + 14
}

// header writes the legend across the top from x = left and, when set,
// the caption of the y axis above the plot; it returns the top of the plot.
func (s *svg) header(left, right float64, keys []key, caption string) float64 {
	y := s.legend(left, 16, right, keys)
	if caption == "" {
		return y + 14
	}
	s.text(8, y+14, "start", caption, "fill", muted)
	return y + 28
}

// caption returns the free suffix of the unit, which the tick labels leave
// out, as the caption of the axis.
func (u Unit) caption() string {
	if u.Percent {
		return ""
	}
	return u.Suffix
}

// labelEvery returns every how many labels to write so that labels at the
// given spacing are at least minGap apart.
func labelEvery(spacing, minGap float64) int {
	if spacing <= 0 {
		return 1
	}
	return max(1, int(math.Ceil(minGap/spacing-1e-9)))
}

// joinParts writes "a; b; c" for a summary.
func joinParts(parts []string) string { return strings.Join(parts, "; ") }

// orDefault returns s, or def when s is blank.
func orDefault(s, def string) string {
	if strings.TrimSpace(s) == "" {
		return def
	}
	return s
}
