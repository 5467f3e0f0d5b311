package chart

import (
	"html/template"
	"math"
)

// IntervalChart shows estimates with their 95 % intervals on one shared
// horizontal axis, one row per variant: a dot for the estimate, a whisker
// for the interval, the row's label on the left and its numbers in words
// on the right. Used for the click-through rate per variant (Unit Percent,
// Reference the control's rate) and for the lift against control (Unit
// Change, Reference 0).
type IntervalChart struct {
	// Title names the chart for screen readers and as its tooltip,
	// e.g. "Click-through rate per variant".
	Title string
	// Unit writes the axis ticks and the values.
	Unit Unit
	// AxisLabel, when set, is written under the axis, e.g.
	// "click-through rate (human unique clickers ÷ delivered)".
	AxisLabel string
	// Rows are drawn top to bottom.
	Rows []IntervalRow
	// Reference, when set, is drawn as a dashed vertical line that every
	// row is compared with.
	Reference *Reference
	// Min and Max, when set, fix the axis bounds; by default the axis fits
	// every value and the reference with round ticks. Intervals that run
	// past a fixed bound end in an arrow head.
	Min, Max *float64
}

// IntervalRow is one variant of an IntervalChart.
type IntervalRow struct {
	// Label names the row, e.g. the variant's name.
	Label string
	// Estimate is the point estimate; nil when there is no data yet.
	Estimate *float64
	// CI is the 95 % interval, low and high; nil when it is unknown, and
	// then only the dot is drawn.
	CI *[2]float64
	// Note is written after the numbers; without an estimate it is written
	// across the plot instead, e.g. "not enough data: 38 % of the planned
	// sample", and defaults to "not enough data".
	Note string
	// Color overrides the row's colour (by default Color of its index), so
	// that a variant keeps its colour in every chart of a page.
	Color string
}

// Reference is the value that rows are compared with: the control's rate,
// or 0 ("no change") for a lift.
type Reference struct {
	// Value is where the line is drawn, in the chart's unit.
	Value float64
	// Label is written above the line, e.g. "control 4.2 %" or "no
	// change"; by default the value.
	Label string
}

// Interval draws an IntervalChart.
func Interval(c IntervalChart) template.HTML {
	const rowH, top, markR = 32.0, 26.0, 5.0
	u := c.Unit

	// The texts, to size the label and value columns.
	values := make([]string, len(c.Rows))
	labelW, valueW := 0.0, 0.0
	var all []float64
	for i, r := range c.Rows {
		values[i] = r.valueText(u)
		labelW = math.Max(labelW, textWidth(r.Label, fontSize))
		if r.Estimate != nil { // without, the note is written across the plot
			valueW = math.Max(valueW, textWidth(values[i], fontSize))
			all = append(all, *r.Estimate)
		}
		if r.CI != nil {
			all = append(all, r.CI[0], r.CI[1])
		}
	}
	if c.Reference != nil {
		all = append(all, c.Reference.Value)
	}
	labelW = clamp(labelW+16, 72, 170)
	valueW = clamp(valueW+16, 110, 250)
	x0, x1 := labelW, width-valueW-12

	lo, hi, ok := extent(all)
	if !ok {
		lo, hi = 0, 0
	}
	if c.Min != nil {
		lo = *c.Min
	}
	if c.Max != nil {
		hi = *c.Max
	}
	ts, step := ticks(lo, hi, max(4, int((x1-x0)/70)))
	if c.Min != nil {
		ts = trimTicks(ts, *c.Min, math.Inf(1))
	}
	if c.Max != nil {
		ts = trimTicks(ts, math.Inf(-1), *c.Max)
	}
	dlo, dhi := ts[0], ts[len(ts)-1]
	if c.Min != nil {
		dlo = *c.Min
	}
	if c.Max != nil {
		dhi = *c.Max
	}
	sc := scale{dlo, dhi, x0, x1}

	n := float64(max(len(c.Rows), 1))
	bottom := top + n*rowH
	h := bottom + 28
	if c.AxisLabel != "" {
		h += 18
	}

	var s svg
	s.open("chart chart-interval", width, h, false, orDefault(c.Title, "Estimates with 95 % intervals"), c.summary(values))
	for i := range c.Rows {
		if i%2 == 0 {
			s.el("rect", "", "x", 0.0, "y", top+float64(i)*rowH, "width", width, "height", rowH, "fill", band)
		}
	}
	s.xAxis(sc, ts, step, u, top, bottom)
	if ref := c.Reference; ref != nil && ref.Value >= dlo && ref.Value <= dhi {
		x := sc.at(ref.Value)
		s.line(x, top-4, x, bottom, ink, 1.5, "5 4")
		label := orDefault(ref.Label, u.Format(ref.Value))
		anchor := "middle"
		if x-textWidth(label, smallSize)/2 < x0 {
			anchor = "start"
		} else if x+textWidth(label, smallSize)/2 > x1 {
			anchor = "end"
		}
		s.text(x, top-9, anchor, label, "font-size", smallSize)
	}
	if len(c.Rows) == 0 {
		s.text((x0+x1)/2, top+rowH/2+4, "middle", "no data yet", "fill", muted)
	}
	for i, r := range c.Rows {
		y := top + float64(i)*rowH + rowH/2
		col := orDefault(r.Color, Color(i))
		s.text(x0-10, y+4, "end", truncate(r.Label, x0-16, fontSize))
		if r.Estimate == nil {
			s.el("rect", "", "x", x0+1, "y", y-10, "width", x1-x0-2, "height", 20.0, "fill", "#fff", "opacity", 0.85)
			s.text(x0+10, y+4, "start", truncate(values[i], width-x0-20, fontSize), "fill", muted, "font-style", "italic")
			continue
		}
		s.text(x1+16, y+4, "start", values[i])
		if r.CI != nil {
			a, b := math.Min(r.CI[0], r.CI[1]), math.Max(r.CI[0], r.CI[1])
			xa, xb := sc.at(clamp(a, dlo, dhi)), sc.at(clamp(b, dlo, dhi))
			s.el("line", "", "x1", xa, "y1", y, "x2", xb, "y2", y, "stroke", col, "stroke-width", 3.0, "stroke-linecap", "round")
			if a < dlo {
				s.arrow(x0, y, -1, col)
			}
			if b > dhi {
				s.arrow(x1, y, 1, col)
			}
		}
		if r.Estimate != nil && *r.Estimate >= dlo && *r.Estimate <= dhi {
			s.el("circle", r.Label+": "+values[i], "cx", sc.at(*r.Estimate), "cy", y, "r", markR, "fill", col, "stroke", "#fff", "stroke-width", 1.5)
		}
	}
	if c.AxisLabel != "" {
		s.text((x0+x1)/2, bottom+38, "middle", c.AxisLabel, "fill", muted)
	}
	return s.close()
}

// valueText writes the row's numbers in words: "4.2 % (3.1–5.6 %)".
func (r IntervalRow) valueText(u Unit) string {
	if r.Estimate == nil {
		return orDefault(r.Note, "not enough data")
	}
	t := u.Format(*r.Estimate)
	if r.CI != nil {
		d := u.decimals(*r.Estimate, r.CI[0], r.CI[1])
		t = u.format(*r.Estimate, d, true) + " (" + u.rangeWith(r.CI[0], r.CI[1], d) + ")"
	}
	if r.Note != "" {
		t += " · " + r.Note
	}
	return t
}

// summary lists the rows and the reference for screen readers.
func (c IntervalChart) summary(values []string) string {
	parts := make([]string, 0, len(c.Rows)+1)
	for i, r := range c.Rows {
		parts = append(parts, r.Label+": "+values[i])
	}
	if len(parts) == 0 {
		parts = append(parts, "no data yet")
	}
	s := joinParts(parts) + "."
	if c.hasCI() {
		s += " Values in brackets are 95 % intervals."
	}
	if c.Reference != nil {
		s += " Dashed line: " + orDefault(c.Reference.Label, c.Unit.Format(c.Reference.Value)) + "."
	}
	return s
}

// hasCI reports whether any row has an interval.
func (c IntervalChart) hasCI() bool {
	for _, r := range c.Rows {
		if r.CI != nil && r.Estimate != nil {
			return true
		}
	}
	return false
}

// arrow draws a small arrow head at (x, y) pointing left (dir −1) or right
// (dir 1): the interval runs on past the axis.
func (s *svg) arrow(x, y, dir float64, col string) {
	s.el("path", "", "d", "M"+num(x)+" "+num(y-5)+"L"+num(x+dir*7)+" "+num(y)+"L"+num(x)+" "+num(y+5)+"Z", "fill", col)
}

// trimTicks keeps the ticks within [lo, hi].
func trimTicks(ts []float64, lo, hi float64) []float64 {
	out := ts[:0:0]
	for _, t := range ts {
		if t >= lo-1e-12 && t <= hi+1e-12 {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		return ts
	}
	return out
}
