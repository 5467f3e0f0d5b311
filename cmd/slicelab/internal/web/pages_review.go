package web

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"slicelab/cmd/slicelab/internal/web/chart"
	"slicelab/experiments"
	"slicelab/okr"
	"slicelab/tracking"
)

type reviewView struct {
	R          *okr.Review
	Week       string
	Prev, Next string
	IsCurrent  bool
	Headline   string
	Objectives []reviewObjective
	Inits      []reviewInitiative
	Alloc      allocView
}

type reviewObjective struct {
	O   okr.ObjectiveReview
	KRs []reviewKR
}

type reviewKR struct {
	K             okr.KRReview
	Spark         template.HTML
	Contributions template.HTML
}

type reviewInitiative struct {
	Name        string
	Experiments []okr.ExperimentWeek
	Summary     string
}

// allocView is the allocation report as charts.
type allocView struct {
	A       okr.Allocation
	Mix     template.HTML // this week's elective split against the target
	KTLO    template.HTML // the KTLO share over the weeks before
	Answers string
}

// reviewPage is the weekly review: are we getting closer this week?
func (s *server) reviewPage(c echo.Context) error {
	team := principal(c).Team
	week, err := s.reportWeek(c, team)
	if err != nil {
		return err
	}
	r, err := s.OKR.WeeklyReview(c.Request().Context(), team, week)
	if err != nil {
		return err
	}
	cur := tracking.WeekOf(s.Now(), team.Location())
	v := reviewView{R: r, Week: week.String(), Prev: week.Prev().String(), IsCurrent: week == cur}
	if week.Before(cur) {
		v.Next = week.Next().String()
	}
	var counts = map[okr.Status]int{}
	total := 0
	for _, o := range r.Objectives {
		ro := reviewObjective{O: o}
		for _, k := range o.KeyResults {
			counts[k.Status]++
			total++
			ro.KRs = append(ro.KRs, reviewKR{K: k, Spark: sparkline(k), Contributions: contributionChart(k)})
		}
		v.Objectives = append(v.Objectives, ro)
	}
	if total > 0 {
		v.Headline = fmt.Sprintf("%d of %d key results on track or done", counts[okr.StatusOnTrack]+counts[okr.StatusDone], total)
		var rest []string
		for _, st := range []okr.Status{okr.StatusAtRisk, okr.StatusOffTrack, okr.StatusStale} {
			if counts[st] > 0 {
				rest = append(rest, fmt.Sprintf("%d %s", counts[st], strings.ReplaceAll(string(st), "_", " ")))
			}
		}
		if len(rest) > 0 {
			v.Headline += "; " + strings.Join(rest, ", ")
		}
		v.Headline += "."
	}
	byID := map[uuid.UUID]okr.ExperimentWeek{}
	for _, e := range r.Experiments {
		byID[e.ID] = e
	}
	for _, in := range r.Initiatives {
		ri := reviewInitiative{Name: in.Name,
			Summary: fmt.Sprintf("%d viable, %d not viable, %d not yet known", in.Viable, in.NotViable, in.Unknown)}
		for _, id := range in.Experiments {
			ri.Experiments = append(ri.Experiments, byID[id])
		}
		v.Inits = append(v.Inits, ri)
	}
	v.Alloc = allocCharts(r.Allocation)
	return s.page(c, http.StatusOK, "review", "Weekly review "+v.Week, "review", v)
}

func krUnit(k okr.KRReview) chart.Unit {
	if k.Source == okr.SourceCTR || k.Unit == "%" && k.Target != nil && *k.Target <= 1 {
		return chart.Percent
	}
	return chart.Unit{Suffix: k.Unit}
}

// sparkline draws a KR's last six weeks with the expected line.
func sparkline(k okr.KRReview) template.HTML {
	tc := chart.TrendChart{Title: k.Title + ", last weeks", Unit: krUnit(k), Target: k.Target}
	for _, p := range k.Trend {
		tc.Points = append(tc.Points, chart.TrendPoint{Week: p.Week, Value: p.Value, Expected: p.Expected})
	}
	return chart.Sparkline(tc)
}

// contributionChart splits a clicks KR's value over its experiments, as a
// bar that adds up to the value.
func contributionChart(k okr.KRReview) template.HTML {
	if len(k.Contributions) == 0 || k.Value == nil {
		return ""
	}
	sb := chart.StackedBarChart{Title: "Contributions to " + k.Title, Unit: chart.Unit{Suffix: orWord(k.Unit, "clickers")}}
	row := chart.StackedRow{}
	for _, c := range k.Contributions {
		if c.Value == 0 {
			continue // only the experiments that brought someone
		}
		sb.Segments = append(sb.Segments, c.Name)
		row.Values = append(row.Values, c.Value)
	}
	sb.Rows = []chart.StackedRow{row}
	return chart.StackedBar(sb)
}

func orWord(s, def string) string {
	if strings.TrimSpace(s) == "" {
		return def
	}
	return s
}

// allocCharts draws the allocation report: the elective split against the
// target mix, and the KTLO share over the weeks before.
func allocCharts(a okr.Allocation) allocView {
	v := allocView{A: a}
	if a.Members > 0 {
		v.Answers = fmt.Sprintf("%d of %d members answered", a.Responses, a.Members)
	}
	sb := chart.StackedBarChart{Title: "Elective time against the target mix", Unit: chart.Percent, Max: ptr(1.0)}
	actual := chart.StackedRow{Label: "this week"}
	target := chart.StackedRow{Label: "target"}
	has := false
	for _, c := range a.Categories {
		if !c.Elective {
			continue
		}
		sb.Segments = append(sb.Segments, c.Name)
		actual.Values = append(actual.Values, deref(c.ElectiveShare))
		target.Values = append(target.Values, deref(c.Target))
		has = has || c.ElectiveShare != nil
	}
	if has {
		sb.Rows = []chart.StackedRow{actual, target}
		v.Mix = chart.StackedBar(sb)
	}
	tc := chart.TrendChart{Title: "Share of time on KTLO (keep the lights on)", Unit: chart.Percent, Label: "KTLO share"}
	any := false
	for _, w := range a.Trend {
		tc.Points = append(tc.Points, chart.TrendPoint{Week: w.Week, Value: w.KTLOShare})
		any = any || w.KTLOShare != nil
	}
	tc.Points = append(tc.Points, chart.TrendPoint{Week: a.Week, Value: a.KTLOShare})
	if any || a.KTLOShare != nil {
		v.KTLO = chart.Trend(tc)
	}
	return v
}

// reviewCSV downloads the review of ?week= as CSV.
func (s *server) reviewCSV(c echo.Context) error {
	team := principal(c).Team
	week, err := s.reportWeek(c, team)
	if err != nil {
		return err
	}
	r, err := s.OKR.WeeklyReview(c.Request().Context(), team, week)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := r.WriteCSV(&b); err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="review-`+team.Slug+"-"+r.Week+`.csv"`)
	return c.Blob(http.StatusOK, "text/csv; charset=utf-8", b.Bytes())
}

// ---- the allocation survey and its report ----

type allocationPageView struct {
	Week     string
	Dates    string
	Weeks    []string
	Fields   []surveyField
	Errors   []string
	Prefill  string
	Report   allocView
	Answered bool
}

func (s *server) allocationPage(c echo.Context) error {
	ctx := c.Request().Context()
	p := principal(c)
	week, err := s.reportWeek(c, p.Team)
	if err != nil {
		return err
	}
	v, err := s.allocationView(c, week)
	if err != nil {
		return err
	}
	prev, err := s.OKR.AllocationOf(ctx, p.Team.ID, p.User, week)
	if err != nil {
		return err
	}
	if prev != nil {
		for i := range v.Fields {
			v.Fields[i].Value = itoa(prev.Shares[v.Fields[i].Name])
		}
		if prev.Week == v.Week {
			v.Answered = true
			v.Prefill = "This is your answer for " + v.Week + "; saving again replaces it."
		} else {
			v.Prefill = "Pre-filled with your answer for " + prev.Week + "."
		}
	}
	return s.page(c, http.StatusOK, "allocation", "Time allocation "+v.Week, "allocation", v)
}

func (s *server) allocationView(c echo.Context, week tracking.Week) (allocationPageView, error) {
	ctx := c.Request().Context()
	p := principal(c)
	cats, err := s.OKR.Categories(ctx, p.Team.ID)
	if err != nil {
		return allocationPageView{}, err
	}
	rep, err := s.OKR.AllocationReport(ctx, p.Team.ID, week)
	if err != nil {
		return allocationPageView{}, err
	}
	v := allocationPageView{Week: week.String(), Dates: week.Dates(), Report: allocCharts(rep)}
	cur := tracking.WeekOf(s.Now(), p.Team.Location())
	for w, i := cur, 0; i < 6; i, w = i+1, w.Prev() {
		v.Weeks = append(v.Weeks, w.String())
	}
	for _, cat := range cats {
		v.Fields = append(v.Fields, surveyField{Input: "share_" + cat.ID.String(), Name: cat.Name, Description: cat.Description, Elective: cat.Elective})
	}
	return v, nil
}

// allocationForm stores the signed-in member's answer for a week; a bad
// answer stores nothing and shows the form again with the errors.
func (s *server) allocationForm(c echo.Context) error {
	ctx := c.Request().Context()
	p := principal(c)
	week, err := tracking.ParseWeek(c.FormValue("week"))
	if err != nil {
		return &experiments.ValidationError{Fields: map[string]string{"week": err.Error()}}
	}
	v, err := s.allocationView(c, week)
	if err != nil {
		return err
	}
	shares := map[string]int{}
	bad := false
	for i := range v.Fields {
		raw := strings.TrimSpace(c.FormValue(v.Fields[i].Input))
		v.Fields[i].Value = raw
		if raw == "" {
			continue
		}
		n, err := strconv.Atoi(raw)
		if err != nil {
			v.Fields[i].Error = "Enter a whole number from 0 to 100."
			bad = true
			continue
		}
		shares[strings.TrimPrefix(v.Fields[i].Input, "share_")] = n
	}
	if !bad {
		_, err := s.OKR.SubmitAllocation(ctx, p.Team.ID, p.User, week, shares)
		if err == nil {
			return s.redirect(c, "/allocation?week="+week.String(), "success", "Thanks: your split of "+week.String()+" is saved.")
		}
		ve, ok := err.(*experiments.ValidationError)
		if !ok {
			return err
		}
		for k, msg := range ve.Fields {
			placed := false
			if name, ok := strings.CutPrefix(k, "shares."); ok {
				for i := range v.Fields {
					if v.Fields[i].Name == name {
						v.Fields[i].Error, placed = surveySentence(name+" "+msg), true
					}
				}
			}
			if !placed {
				v.Errors = append(v.Errors, surveySentence(msg))
			}
		}
	}
	if len(v.Errors) == 0 {
		v.Errors = append(v.Errors, "Please correct the marked shares.")
	}
	return s.page(c, http.StatusUnprocessableEntity, "allocation", "Time allocation "+v.Week, "allocation", v)
}
