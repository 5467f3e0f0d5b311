package chart

import (
	"html/template"
	"math"
	"strings"
)

// StackedBarChart is one or more horizontal bars on a shared axis, each
// split into segments that add up to the total written at its end. Used
// for the allocation mix against the target (segments New, Improve,
// Productivity as shares, Unit Percent, Targets 0.6, 0.2, 0.2) and for the
// contributions of each experiment to a key result's value.
type StackedBarChart struct {
	// Title names the chart for screen readers and as its tooltip,
	// e.g. "Elective time this week against the target mix".
	Title string
	// Unit writes the axis ticks, the segments and the totals.
	Unit Unit
	// Segments name the segments in order, for the legend; segment i is
	// drawn in Color(i).
	Segments []string
	// Rows are drawn top to bottom.
	Rows []StackedRow
	// Max, when set, fixes the end of the axis (1 for shares); by default
	// it is the round value at or above the largest total.
	Max *float64
}

// StackedRow is one bar of a StackedBarChart.
type StackedRow struct {
	// Label names the bar, e.g. "2026-W48"; it may be empty for a chart of
	// one bar.
	Label string
	// Values holds one value per segment, in the order of Segments;
	// negative values count as 0, missing ones as 0.
	Values []float64
	// Targets, when set, holds a target value per segment; a pair of black
	// triangles, above and below the bar, marks where each segment would
	// end if the bar met its targets.
	Targets []float64
}

// StackedBar draws a StackedBarChart.
func StackedBar(c StackedBarChart) template.HTML {
	const rowH, barH = 40.0, 24.0
	u := c.Unit
	totals := make([]string, len(c.Rows))
	labelW, totalW, hi := 0.0, 0.0, 0.0
	for i, r := range c.Rows {
		t := r.total(len(c.Segments))
		totals[i] = u.Format(t)
		hi = math.Max(hi, math.Max(t, sum(r.Targets)))
		labelW = math.Max(labelW, textWidth(r.Label, fontSize))
		totalW = math.Max(totalW, textWidth(totals[i], fontSize))
	}
	if labelW > 0 {
		labelW = clamp(labelW+16, 60, 170)
	}
	x0, x1 := math.Max(labelW, 12), width-clamp(totalW+20, 60, 180)
	if c.Max != nil {
		hi = *c.Max
	}
	ts, step := ticks(0, hi, int((x1-x0)/90))
	if c.Max != nil {
		ts = trimTicks(ts, 0, *c.Max)
	}
	sx := scale{0, ts[len(ts)-1], x0, x1}
	if c.Max != nil {
		sx.d1 = *c.Max
	}

	// The legend, with the values when there is a single bar.
	keys := make([]key, 0, len(c.Segments)+1)
	hasTargets := false
	for j, name := range c.Segments {
		label := name
		if len(c.Rows) == 1 {
			label += " " + u.Format(c.Rows[0].value(j))
			if j < len(c.Rows[0].Targets) {
				label += " (target " + u.Format(c.Rows[0].Targets[j]) + ")"
			}
		}
		keys = append(keys, key{label, Color(j), keySwatch})
	}
	for _, r := range c.Rows {
		hasTargets = hasTargets || len(r.Targets) > 0
	}
	if hasTargets {
		keys = append(keys, key{"target", "#000", keyMarker})
	}

	// Measure the legend's height by drawing it into a scratch builder.
	var scratch svg
	top := scratch.legend(x0, 16, width-8, keys) + 14
	bottom := top + float64(max(len(c.Rows), 1))*rowH
	h := bottom + 28

	var s svg
	s.open("chart chart-stacked", width, h, false, orDefault(c.Title, "Stacked bars"), c.summary(totals))
	s.legend(x0, 16, width-8, keys)
	s.xAxis(sx, ts, step, u, top, bottom)
	for i, r := range c.Rows {
		yc := top + float64(i)*rowH + rowH/2
		y := yc - barH/2
		if r.Label != "" {
			s.text(x0-10, yc+4, "end", truncate(r.Label, x0-16, fontSize))
		}
		at := 0.0
		for j := range c.Segments {
			v := r.value(j)
			if v == 0 {
				continue
			}
			xa, xb := sx.at(at), sx.at(math.Min(at+v, sx.d1))
			at += v
			col := Color(j)
			s.el("rect", c.Segments[j]+": "+u.Format(v), "x", xa, "y", y, "width", math.Max(xb-xa, 0), "height", barH, "fill", col, "stroke", "#fff", "stroke-width", 1.0)
			short := u.format(v, u.decimals(v), u.Percent) // the total carries a free suffix
			labels := []string{short}
			if len(c.Rows) == 1 { // names inside only where no other bar may lack them
				labels = []string{c.Segments[j] + " " + short, short}
			}
			for _, t := range labels {
				if textWidth(t, fontSize)+10 <= xb-xa {
					s.text((xa+xb)/2, yc+4, "middle", t, "fill", inkOn(col))
					break
				}
			}
		}
		s.text(sx.at(math.Min(at, sx.d1))+8, yc+4, "start", totals[i], "font-weight", "600")
		at = 0
		for j, t := range r.Targets {
			if j == len(r.Targets)-1 && j > 0 {
				break // the last boundary is the total, not a split
			}
			at += t
			s.targetMarker(sx.at(math.Min(at, sx.d1)), y, y+barH)
		}
	}
	return s.close()
}

func (r StackedRow) value(j int) float64 {
	if j >= len(r.Values) {
		return 0
	}
	return math.Max(r.Values[j], 0)
}

func (r StackedRow) total(n int) float64 {
	t := 0.0
	for j := range n {
		t += r.value(j)
	}
	return t
}

func sum(vs []float64) float64 {
	t := 0.0
	for _, v := range vs {
		t += v
	}
	return t
}

// summary lists each bar's segments, total and targets.
func (c StackedBarChart) summary(totals []string) string {
	u := c.Unit
	parts := make([]string, 0, len(c.Rows))
	for i, r := range c.Rows {
		segs := make([]string, len(c.Segments))
		for j, name := range c.Segments {
			segs[j] = name + " " + u.Format(r.value(j))
		}
		p := strings.Join(segs, ", ") + ", total " + totals[i]
		if r.Label != "" {
			p = r.Label + ": " + p
		}
		if len(r.Targets) > 0 {
			tg := make([]string, 0, len(r.Targets))
			for j, t := range r.Targets {
				if j < len(c.Segments) {
					tg = append(tg, c.Segments[j]+" "+u.Format(t))
				}
			}
			p += " (target " + strings.Join(tg, ", ") + ")"
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		return "No data yet."
	}
	return joinParts(parts) + "."
}

// targetMarker marks x on a bar from y0 to y1 with a triangle pointing down
// above it and one pointing up below it, leaving the bar's text readable.
func (s *svg) targetMarker(x, y0, y1 float64) {
	s.el("path", "", "d", "M"+num(x-5)+" "+num(y0-8)+"H"+num(x+5)+"L"+num(x)+" "+num(y0-1)+"Z", "fill", "#000")
	s.el("path", "", "d", "M"+num(x-5)+" "+num(y1+8)+"H"+num(x+5)+"L"+num(x)+" "+num(y1+1)+"Z", "fill", "#000")
}
