package chart

import (
	"html/template"
	"math"
	"time"
)

// DailyChart is a daily count for several series, e.g. the sends (or the
// first human clicks) per day of each variant: grouped bars, one per series
// per day, under a legend, with the dates on the x axis ("Nov 24"). When
// there are too many days for bars of a readable width, lines are drawn
// instead. Draw counts of different sizes (sends and clicks) as two charts
// so that the smaller one stays visible.
type DailyChart struct {
	// Title names the chart for screen readers and as its tooltip,
	// e.g. "First human clicks per day".
	Title string
	// Unit writes the axis ticks and the values.
	Unit Unit
	// YLabel, when set, is written above the y axis, e.g. "clicks per
	// day"; by default it is the unit's suffix.
	YLabel string
	// Days are the dates of the values, oldest first.
	Days []time.Time
	// Series are drawn in order; series i is Color(i) unless it sets Color.
	Series []DailySeries
}

// DailySeries is one series of a DailyChart.
type DailySeries struct {
	// Name labels the series in the legend, e.g. the variant's name.
	Name string
	// Values holds one value per day, in the order of Days; missing
	// values count as 0.
	Values []float64
	// Color overrides the series' colour, so that a variant keeps its
	// colour in every chart of a page.
	Color string
}

// DailyBars draws a DailyChart.
func DailyBars(c DailyChart) template.HTML {
	const h = 260.0
	u := c.Unit
	n := len(c.Days)
	hi := 0.0
	for _, sr := range c.Series {
		for d := range n {
			hi = math.Max(hi, sr.value(d))
		}
	}
	if !u.Percent && hi < 5 {
		hi = 5 // counts: whole ticks
	}
	ts, step := ticks(0, hi, 5)
	left := math.Max(36, yTickWidth(ts, step, u)+14)
	right := width - 12
	bottom := h - 30
	groupW := (right - left) / float64(max(n, 1))
	barW := groupW * 0.8 / float64(max(len(c.Series), 1))
	lines := barW < 7

	keys := make([]key, len(c.Series))
	for i, sr := range c.Series {
		keys[i] = key{sr.Name, sr.color(i), keySwatch}
		if lines {
			keys[i].shape = keyLine
		}
	}
	var s svg
	s.open("chart chart-daily", width, h, false, orDefault(c.Title, "Daily counts"), c.summary())
	top := s.header(left, right, keys, orDefault(c.YLabel, u.caption()))
	sy := scale{0, ts[len(ts)-1], bottom, top}
	s.yAxis(sy, ts, step, u, left, right)

	every := labelEvery(groupW, 52)
	xs := make([]float64, n)
	for d, day := range c.Days {
		xs[d] = left + (float64(d)+0.5)*groupW
		if (n-1-d)%every == 0 {
			s.text(xs[d], bottom+17, "middle", day.Format("Jan 2"), "fill", muted)
		}
	}
	for i, sr := range c.Series {
		col := sr.color(i)
		if lines {
			vs := make([]*float64, n)
			for d := range n {
				v := sr.value(d)
				vs[d] = &v
			}
			s.el("path", "", "d", polyline(xs, vs, sy), "fill", "none", "stroke", col, "stroke-width", 2.0, "stroke-linejoin", "round")
			continue
		}
		for d := range n {
			v := sr.value(d)
			x := xs[d] - groupW*0.4 + float64(i)*barW
			y := sy.at(v)
			tip := c.Days[d].Format("Jan 2") + " · " + sr.Name + ": " + u.Format(v)
			s.el("rect", tip, "x", x+0.5, "y", y, "width", barW-1, "height", bottom-y, "fill", col)
		}
	}
	return s.close()
}

func (sr DailySeries) value(d int) float64 {
	if d >= len(sr.Values) {
		return 0
	}
	return sr.Values[d]
}

func (sr DailySeries) color(i int) string { return orDefault(sr.Color, Color(i)) }

// summary gives the period and, per series, its total and its peak day.
func (c DailyChart) summary() string {
	n := len(c.Days)
	if n == 0 {
		return "No days yet."
	}
	u := c.Unit
	s := c.Days[0].Format("Jan 2") + " to " + c.Days[n-1].Format("Jan 2") + ". "
	parts := make([]string, 0, len(c.Series))
	for _, sr := range c.Series {
		total, peak := 0.0, 0
		for d := range n {
			total += sr.value(d)
			if sr.value(d) > sr.value(peak) {
				peak = d
			}
		}
		p := sr.Name + ": " + u.Format(total) + " in total"
		if sr.value(peak) > 0 {
			p += ", most on " + c.Days[peak].Format("Jan 2") + " (" + u.Format(sr.value(peak)) + ")"
		}
		parts = append(parts, p)
	}
	return s + joinParts(parts) + "."
}
