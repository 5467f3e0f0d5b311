package chart

import (
	"html/template"
	"math"
	"strings"
)

// TrendChart is a key result's (or any weekly measure's) value week by
// week: a line with a dot per week, the expected progress as a dashed line,
// the target as a horizontal rule and the last value written at its point.
// Trend draws it in full; Sparkline draws it small for a table row.
// For a share such as KTLO over the quarter, use Unit Percent.
type TrendChart struct {
	// Title names the chart for screen readers and as its tooltip,
	// e.g. "Weekly active clickers".
	Title string
	// Unit writes the axis ticks and the values.
	Unit Unit
	// Points are the weeks in order, oldest first.
	Points []TrendPoint
	// Target, when set, is drawn as a horizontal rule labelled "target 20".
	Target *float64
	// Label names the measured line in the legend; "actual" by default.
	Label string
}

// TrendPoint is one week of a TrendChart.
type TrendPoint struct {
	// Week is the ISO week, e.g. "2026-W45"; the axis writes "W45", with
	// the year under the first week and where the year changes. Any other
	// text is written as it is.
	Week string
	// Value is the week's value; nil (no value) leaves a gap in the line.
	Value *float64
	// Expected is the value expected that week if progress were linear;
	// nil draws no expected line there.
	Expected *float64
}

// Trend draws a TrendChart at full size with axes and a legend.
func Trend(c TrendChart) template.HTML {
	const h = 250.0
	u := c.Unit
	ys := c.domain(true)
	ts, step := ticks(ys[0], ys[1], 5)
	ends := c.endLabels()
	right := 12.0
	for _, e := range ends {
		right = math.Max(right, textWidth(e, fontSize)+20)
	}
	left := math.Max(36, yTickWidth(ts, step, u)+14)
	bottom := h - 44
	xs := c.xs(left, width-right, 16)

	var s svg
	s.open("chart chart-trend", width, h, false, orDefault(c.Title, "Weekly trend"), c.summary())
	keys := []key{{orDefault(c.Label, "actual"), Blue, keyLineDot}}
	if c.hasExpected() {
		keys = append(keys, key{"expected", ink, keyDashed})
	}
	if c.Target != nil {
		keys = append(keys, key{"target", Green, keyLine})
	}
	top := s.header(left, width-right, keys, u.caption())
	sy := scale{ts[0], ts[len(ts)-1], bottom, top}
	s.yAxis(sy, ts, step, u, left, width-right)

	// Week labels, thinned so that they do not touch; the last one always shows.
	every := labelEvery(spacing(xs), 44)
	prevYear := ""
	for i, p := range c.Points {
		wk, year := isoWeek(p.Week)
		if (len(xs)-1-i)%every != 0 {
			continue
		}
		s.text(xs[i], bottom+17, "middle", wk, "fill", muted)
		if year != "" && year != prevYear {
			s.text(xs[i], bottom+32, "middle", year, "fill", muted, "font-size", smallSize)
			prevYear = year
		}
	}

	if c.Target != nil {
		y := sy.at(*c.Target)
		s.line(left, y, width-right, y, Green, 2, "")
	}
	if c.hasExpected() {
		s.el("path", "", "d", polyline(xs, c.values(true), sy), "fill", "none", "stroke", ink, "stroke-width", 1.5, "stroke-dasharray", "6 4")
	}
	s.el("path", "", "d", polyline(xs, c.values(false), sy), "fill", "none", "stroke", Blue, "stroke-width", 2.5, "stroke-linejoin", "round")
	for i, p := range c.Points {
		if p.Value != nil {
			s.el("circle", p.Week+": "+u.Format(*p.Value), "cx", xs[i], "cy", sy.at(*p.Value), "r", 4.0, "fill", Blue, "stroke", "#fff", "stroke-width", 1.5)
		}
	}

	// The last value and the target, at the right end, kept apart.
	last := c.last()
	var pos []float64
	if last >= 0 {
		pos = append(pos, sy.at(*c.Points[last].Value)+4)
	}
	if c.Target != nil {
		pos = append(pos, sy.at(*c.Target)+4)
	}
	spread(pos, 15, top, bottom+4)
	for i, e := range ends {
		x, attrs := width-right+8, []any{"font-weight", "600"}
		if i == 0 && last >= 0 && last != len(xs)-1 { // a gap at the end: write the value above its point
			s.text(xs[last], sy.at(*c.Points[last].Value)-10, "middle", e, attrs...)
			continue
		}
		if i == len(ends)-1 && c.Target != nil {
			attrs = []any{"fill", muted}
		}
		s.text(x, pos[i], "start", e, attrs...)
	}
	return s.close()
}

// Sparkline draws a TrendChart small (140 × 32, no axes) for a table row:
// the line of values, the expected line dashed and the last value as text.
// The target is left out; write it in the row.
func Sparkline(c TrendChart) template.HTML {
	const w, h, plotW = 140.0, 32.0, 88.0
	ys := c.domain(false)
	if ys[1]-ys[0] < 1e-12 {
		ys[0], ys[1] = ys[0]-1, ys[1]+1
	}
	xs := c.xs(0, plotW, 3)
	sy := scale{ys[0], ys[1], h - 5, 5}
	var s svg
	s.open("sparkline", w, h, true, orDefault(c.Title, "Weekly trend"), c.summary())
	if c.hasExpected() {
		s.el("path", "", "d", polyline(xs, c.values(true), sy), "fill", "none", "stroke", muted, "stroke-width", 1.0, "stroke-dasharray", "3 2")
	}
	s.el("path", "", "d", polyline(xs, c.values(false), sy), "fill", "none", "stroke", Blue, "stroke-width", 1.75, "stroke-linejoin", "round")
	if last := c.last(); last >= 0 {
		v := *c.Points[last].Value
		s.el("circle", "", "cx", xs[last], "cy", sy.at(v), "r", 2.5, "fill", Blue)
		s.text(plotW+8, h/2+4, "start", c.Unit.format(v, c.Unit.decimals(v), c.Unit.Percent), "font-weight", "600")
	} else {
		s.text(plotW+8, h/2+4, "start", "no data", "fill", muted, "font-size", smallSize)
	}
	return s.close()
}

// domain returns the range of the values, expected values and, with
// target, the target; then a range of positive values reaches down to
// zero when zero is near. It is [0, 0] when there is nothing to draw.
func (c TrendChart) domain(target bool) [2]float64 {
	var vs []float64
	for _, p := range c.Points {
		for _, v := range []*float64{p.Value, p.Expected} {
			if v != nil {
				vs = append(vs, *v)
			}
		}
	}
	if target && c.Target != nil {
		vs = append(vs, *c.Target)
	}
	lo, hi, _ := extent(vs)
	if target && lo > 0 && lo < 0.6*hi {
		lo = 0
	}
	return [2]float64{lo, hi}
}

// xs spaces the weeks evenly over [x0, x1] with pad at both ends.
func (c TrendChart) xs(x0, x1, pad float64) []float64 {
	xs := make([]float64, len(c.Points))
	for i := range xs {
		if len(xs) == 1 {
			xs[i] = (x0 + x1) / 2
			continue
		}
		xs[i] = x0 + pad + float64(i)*(x1-x0-2*pad)/float64(len(xs)-1)
	}
	return xs
}

// values returns the values, or the expected values.
func (c TrendChart) values(expected bool) []*float64 {
	vs := make([]*float64, len(c.Points))
	for i, p := range c.Points {
		vs[i] = p.Value
		if expected {
			vs[i] = p.Expected
		}
	}
	return vs
}

func (c TrendChart) hasExpected() bool {
	for _, p := range c.Points {
		if p.Expected != nil {
			return true
		}
	}
	return false
}

// last returns the index of the last week with a value, or −1.
func (c TrendChart) last() int {
	for i := len(c.Points) - 1; i >= 0; i-- {
		if c.Points[i].Value != nil {
			return i
		}
	}
	return -1
}

// endLabels returns the texts written at the right end: the last value,
// then the target.
func (c TrendChart) endLabels() []string {
	var out []string
	if i := c.last(); i >= 0 {
		out = append(out, c.Unit.Format(*c.Points[i].Value))
	}
	if c.Target != nil {
		out = append(out, "target "+c.Unit.Format(*c.Target))
	}
	return out
}

// summary writes the latest value against expected and target, then every
// week, for screen readers.
func (c TrendChart) summary() string {
	u := c.Unit
	if len(c.Points) == 0 {
		return "No weeks yet."
	}
	var b strings.Builder
	if i := c.last(); i >= 0 {
		p := c.Points[i]
		b.WriteString("Latest " + p.Week + ": " + u.Format(*p.Value))
		if p.Expected != nil {
			b.WriteString(", expected " + u.Format(*p.Expected))
		}
	} else {
		b.WriteString("No values yet")
	}
	if c.Target != nil {
		b.WriteString(", target " + u.Format(*c.Target))
	}
	b.WriteString(". By week: ")
	parts := make([]string, len(c.Points))
	for i, p := range c.Points {
		parts[i] = p.Week + " no value"
		if p.Value != nil {
			parts[i] = p.Week + " " + u.Format(*p.Value)
		}
	}
	b.WriteString(joinParts(parts) + ".")
	return b.String()
}

// polyline returns SVG path data through the points, starting a new piece
// after each gap (nil value).
func polyline(xs []float64, vs []*float64, sy scale) string {
	var b strings.Builder
	pen := false
	for i, v := range vs {
		if v == nil {
			pen = false
			continue
		}
		if pen {
			b.WriteString("L")
		} else {
			b.WriteString("M")
		}
		b.WriteString(num(xs[i]) + " " + num(sy.at(*v)))
		pen = true
	}
	if b.Len() == 0 {
		return "M0 0"
	}
	return b.String()
}

// spacing returns the distance between neighbouring positions.
func spacing(xs []float64) float64 {
	if len(xs) < 2 {
		return 0
	}
	return xs[1] - xs[0]
}

// isoWeek splits "2026-W45" into "W45" and "2026"; other text is returned
// as it is, with no year.
func isoWeek(s string) (week, year string) {
	y, w, ok := strings.Cut(s, "-W")
	if !ok || len(y) != 4 || len(w) == 0 || len(w) > 2 || strings.Trim(y+w, "0123456789") != "" {
		return s, ""
	}
	return "W" + w, y
}
