package web

import (
	"fmt"
	"html/template"
	"math"
	"strings"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"slicelab/cmd/slicelab/internal/web/chart"
	"slicelab/experiments"
	"slicelab/experiments/stats"
	"slicelab/tracking"
)

// resultsView is the results part of an experiment's page (GrowthBook's
// results table, in words first).
type resultsView struct {
	R            *experiments.Results
	Verdict      string // the one sentence the page opens with
	Leading      string // the variant ahead, when there is one
	Engine       string // bayesian | frequentist: which of chance to beat control or p-value is shown
	Rows         []resultRow
	CTRChart     template.HTML
	LiftChart    template.HTML
	SendsChart   template.HTML
	ClicksChart  template.HTML
	SRM          string
	SRMFlag      bool
	Human        int
	Automated    int
	Reasons      []tracking.ReasonCount
	Links        []linkRow
	Planned      int // deliveries per arm the plan asks for (10 % effect); 0 when unknown
	MinPerArm    int
	HoldoutCount int
	AnySent      bool // the charts have something to show
}

type resultRow struct {
	experiments.VariantResult
	Color string
}

type linkRow struct {
	Variant, Color, URL string
	tracking.LinkCount
}

// results builds the results view of a launched experiment.
func (s *server) results(c echo.Context, e *experiments.Experiment) (*resultsView, error) {
	ctx := c.Request().Context()
	team := principal(c).Team
	r, err := s.Experiments.Results(ctx, team.ID, e.ID)
	if err != nil {
		return nil, err
	}
	act, err := s.Experiments.Activity(ctx, team.ID, e.ID)
	if err != nil {
		return nil, err
	}
	v := &resultsView{R: r, Engine: engineOf(r), Reasons: act.Reasons, HoldoutCount: r.Holdout.Assigned,
		MinPerArm: minPerArm(e)}
	colors := map[uuid.UUID]string{}
	names := map[uuid.UUID]string{}
	var ctrRows, liftRows []chart.IntervalRow
	var control *experiments.VariantResult
	for i := range r.Variants {
		vr := r.Variants[i]
		col := chart.Color(i)
		colors[vr.ID], names[vr.ID] = col, vr.Name
		v.Rows = append(v.Rows, resultRow{VariantResult: vr, Color: col})
		v.Human += vr.Clicks
		v.AnySent = v.AnySent || vr.Sent > 0
		v.Automated += vr.AutomatedClicks
		ctrRows = append(ctrRows, chart.IntervalRow{Label: vr.Name, Estimate: vr.CTR, CI: vr.CTRCI, Color: col})
		if vr.Control {
			control = &r.Variants[i]
			continue
		}
		row := chart.IntervalRow{Label: vr.Name, Estimate: vr.Lift, CI: vr.LiftCI, Color: col}
		if ci := vr.LiftCI; ci != nil && ci[0] < -1 { // a change cannot go below −100 %: the bar stops there
			row.CI = &[2]float64{-1, ci[1]}
		}
		if vr.Lift == nil {
			row.Note = "not enough data yet"
		}
		liftRows = append(liftRows, row)
	}
	v.Planned = plannedPerArm(r)
	ctr := chart.IntervalChart{Title: "Click-through rate per variant", Unit: chart.Percent, Rows: ctrRows,
		AxisLabel: "click-through rate: people who clicked ÷ messages delivered (95 % interval)"}
	if control != nil && control.CTR != nil {
		ctr.Reference = &chart.Reference{Value: *control.CTR, Label: control.Name + " " + chart.Percent.Format(*control.CTR)}
	}
	v.CTRChart = chart.Interval(ctr)
	if len(liftRows) > 0 {
		v.LiftChart = chart.Interval(chart.IntervalChart{Title: "Change against " + nameOr(control, "the control"), Unit: chart.Change, Rows: liftRows,
			Reference: &chart.Reference{Value: 0, Label: "no change"}, AxisLabel: "relative change of the click-through rate (95 % interval)"})
	}
	if len(act.Days) > 0 {
		sends := chart.DailyChart{Title: "Messages sent per day", YLabel: "messages", Days: act.Days}
		clicks := chart.DailyChart{Title: "People who clicked for the first time, per day", YLabel: "first clicks", Days: act.Days}
		for _, sr := range act.Variants {
			sends.Series = append(sends.Series, chart.DailySeries{Name: sr.Name, Values: floats(sr.Sends), Color: colors[sr.ID]})
			clicks.Series = append(clicks.Series, chart.DailySeries{Name: sr.Name, Values: floats(sr.FirstClicks), Color: colors[sr.ID]})
		}
		v.SendsChart, v.ClicksChart = chart.DailyBars(sends), chart.DailyBars(clicks)
	}
	for _, l := range act.Links {
		v.Links = append(v.Links, linkRow{Variant: names[l.VariantID], Color: colors[l.VariantID], URL: l.URL, LinkCount: l})
	}
	v.SRM, v.SRMFlag = srmText(r)
	v.Verdict, v.Leading = verdictSentence(e, r, v.Planned)
	return v, nil
}

func nameOr(v *experiments.VariantResult, def string) string {
	if v == nil {
		return def
	}
	return v.Name
}

func floats(xs []int) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = float64(x)
	}
	return out
}

// engineOf is the experiment's statistics engine: the page shows chance to
// beat control (bayesian, the default, as in GrowthBook) or the p-value
// (frequentist), never both.
func engineOf(r *experiments.Results) string {
	if r.Engine == "" {
		return "bayesian"
	}
	return r.Engine
}

// minPerArm is the sample each arm needs before a verdict.
func minPerArm(e *experiments.Experiment) int {
	if e.ViabilityMinSample > 0 {
		return e.ViabilityMinSample
	}
	return 100
}

// plannedPerArm is the deliveries per arm needed to detect a 10 % change of
// the control's click-through rate with 80 % power (the plan tool's
// formula); 0 when the rate is not known yet.
func plannedPerArm(r *experiments.Results) int {
	base := 0.0
	for _, v := range r.Variants {
		if v.Control && v.CTR != nil {
			base = *v.CTR
		}
	}
	if base <= 0 || base >= 1 {
		return 0
	}
	n, ok := stats.SampleSizePerArm(base, base*(1-base), 0.10, stats.Alpha, stats.TargetPower)
	if !ok {
		return 0
	}
	return int(math.Ceil(n))
}

// srmText says in words whether the arms got the share their weights promise.
func srmText(r *experiments.Results) (string, bool) {
	p := r.SRM.DeliveredPValue
	if p == nil {
		p = r.SRM.AssignedPValue
	}
	if p == nil {
		return "The sample-ratio check needs messages in at least two variants.", false
	}
	if r.SRM.Flag {
		return fmt.Sprintf("Warning: the variants did not get the share of the audience their weights promise (sample ratio mismatch, p = %.4f, flagged below 0.001). Something in the assignment or the sending is off; do not trust these results until it is explained.", *p), true
	}
	return fmt.Sprintf("The variants got the share of the audience their weights promise (sample-ratio check p = %.2f; a mismatch is flagged below 0.001).", *p), false
}

// verdictSentence is the one sentence the results page opens with. It
// prefers the results' own plain-language summary when they carry one;
// otherwise it says, by the experiment's engine, who is ahead and how sure
// that is, or that there is not enough data yet and how much more is needed.
func verdictSentence(e *experiments.Experiment, r *experiments.Results, planned int) (sentence, leading string) {
	if s := summaryOf(r); s != "" {
		return s, ""
	}
	var control *experiments.VariantResult
	var best *experiments.VariantResult
	sent := 0
	for i := range r.Variants {
		v := &r.Variants[i]
		sent += v.Sent
		if v.Control {
			control = v
			continue
		}
		if v.ChanceToBeatControl != nil && (best == nil || best.ChanceToBeatControl == nil || *v.ChanceToBeatControl > *best.ChanceToBeatControl) {
			best = v
		} else if best == nil {
			best = v
		}
	}
	if sent == 0 {
		return "Nothing has been delivered yet: results appear as the messages go out and people click.", ""
	}
	if control == nil || best == nil {
		v := r.Variants[0]
		return fmt.Sprintf("%s reached a click-through rate of %s (%s) from %s messages.", v.Name, chart.Percent.Format(deref(v.CTR)),
			chart.Percent.Range(ci(v.CTRCI)[0], ci(v.CTRCI)[1]), chart.Plain.Format(float64(v.Sent))), ""
	}
	need := minPerArm(e)
	if planned > need {
		need = planned
	}
	fewest := math.MaxInt
	for _, v := range r.Variants {
		if v.Weight > 0 && v.Sent < fewest {
			fewest = v.Sent
		}
	}
	more := ""
	if planned > 0 {
		more = fmt.Sprintf("keep it running until about %s messages per variant to detect a 10 %% change", chart.Plain.Format(float64(planned)))
	}
	chance := best.ChanceToBeatControl
	if fewest < minPerArm(e) || chance == nil || best.Lift == nil {
		s := fmt.Sprintf("Not enough data yet: the smallest variant has %s of the %s messages a verdict needs", chart.Plain.Format(float64(fewest)),
			chart.Plain.Format(float64(minPerArm(e))))
		if planned > 0 && fewest < planned {
			s = fmt.Sprintf("Not enough data yet: %s of about %s messages per variant (%s of the planned sample) to detect a 10 %% change",
				chart.Plain.Format(float64(fewest)), chart.Plain.Format(float64(planned)), chart.Percent.Format(float64(fewest)/float64(planned)))
		}
		if chance != nil && best.Lift != nil {
			s += fmt.Sprintf(". So far %s is at %s against %s", best.Name, chart.Change.Format(*best.Lift), control.Name)
		}
		return s + ".", ""
	}
	lift := fmt.Sprintf("%s clicks (%s)", chart.Change.Format(*best.Lift), chart.Change.Range(ci(best.LiftCI)[0], ci(best.LiftCI)[1]))
	switch {
	case *chance >= 0.95:
		return fmt.Sprintf("%s is ahead with %s chance to beat %s: %s.", best.Name, chart.Percent.Format(*chance), control.Name, lift), best.Name
	case *chance <= 0.05:
		return fmt.Sprintf("%s is ahead: %s has only %s chance to beat it (%s).", control.Name, best.Name, chart.Percent.Format(*chance), lift), control.Name
	}
	s := fmt.Sprintf("No clear winner yet: %s has %s chance to beat %s (%s clicks, %s)", best.Name, chart.Percent.Format(*chance), control.Name,
		chart.Change.Format(*best.Lift), chart.Change.Range(ci(best.LiftCI)[0], ci(best.LiftCI)[1]))
	if more != "" && fewest < planned {
		s += "; " + more
	} else {
		s += "; a winner needs 95 %"
	}
	return s + ".", ""
}

// summaryOf is the results' own plain-language summary, when they carry one.
func summaryOf(r *experiments.Results) string {
	s := strings.TrimSpace(r.Summary)
	if s == "" {
		return ""
	}
	named := false // a sentence that starts with a variant's name keeps its spelling
	for _, v := range r.Variants {
		named = named || strings.HasPrefix(s, v.Name+" ")
	}
	if !named {
		s = strings.ToUpper(s[:1]) + s[1:]
	}
	if !strings.HasSuffix(s, ".") && !strings.HasSuffix(s, "?") {
		s += "."
	}
	return s
}

func deref(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}

func ci(p *[2]float64) [2]float64 {
	if p == nil {
		return [2]float64{}
	}
	return *p
}
