package web

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"

	"github.com/labstack/echo/v4"

	"slicelab/cmd/slicelab/internal/web/chart"
	"slicelab/experiments"
	"slicelab/okr"
	"slicelab/tracking"
)

// The organisation's week (issue 13): how each team spent its time, side by
// side, and the objectives several teams share. Aggregates only.

type orgView struct {
	Org        experiments.Org
	R          *okr.OrgWeek
	Week       string
	Prev, Next string
	Teams      []orgTeamView
	Mix        template.HTML // each team's elective split and the organisation's, against their targets
	Flagged    int
	MinAnswers int
}

type orgTeamView struct {
	T     okr.OrgTeamWeek
	Spark template.HTML // the KTLO share over the quarter
}

// orgWeek reads ?week= (default: this week, UTC) and the organisation's week.
func (s *server) orgWeek(c echo.Context) (*okr.OrgWeek, tracking.Week, error) {
	org := *principal(c).Org
	week := tracking.WeekOf(s.Now(), nil)
	if v := c.QueryParam("week"); v != "" {
		w, err := tracking.ParseWeek(v)
		if err != nil {
			return nil, week, &experiments.ValidationError{Fields: map[string]string{"week": err.Error()}}
		}
		week = w
	}
	r, err := s.OKR.OrgWeeklyReport(c.Request().Context(), org, week)
	return r, week, err
}

func (s *server) orgPage(c echo.Context) error {
	r, week, err := s.orgWeek(c)
	if err != nil {
		return err
	}
	v := orgView{Org: *principal(c).Org, R: r, Week: week.String(), Prev: week.Prev().String(), MinAnswers: okr.OrgMinResponses}
	if week.Before(tracking.WeekOf(s.Now(), nil)) {
		v.Next = week.Next().String()
	}
	sb := chart.StackedBarChart{Title: "Elective time of each team against its target mix", Unit: chart.Percent, Max: ptr(1.0)}
	seg := map[string]int{}
	segment := func(name string) int {
		i, ok := seg[name]
		if !ok {
			i = len(sb.Segments)
			seg[name] = i
			sb.Segments = append(sb.Segments, name)
		}
		return i
	}
	row := func(label string, es []okr.ElectiveShare, target bool) (chart.StackedRow, bool) {
		r := chart.StackedRow{Label: label}
		has := false
		for _, e := range es {
			i := segment(e.Category)
			for len(r.Values) <= i {
				r.Values = append(r.Values, 0)
			}
			p := e.Share
			if target {
				p = e.Target
			}
			r.Values[i] = deref(p)
			has = has || p != nil
		}
		return r, has
	}
	var rows []chart.StackedRow
	for _, t := range r.Teams {
		tv := orgTeamView{T: t}
		tc := chart.TrendChart{Title: t.Name + ": share of time on KTLO", Unit: chart.Percent}
		for _, w := range t.Trend {
			tc.Points = append(tc.Points, chart.TrendPoint{Week: w.Week, Value: w.KTLOShare})
		}
		tv.Spark = chart.Sparkline(tc)
		if t.KTLORising {
			v.Flagged++
		}
		v.Teams = append(v.Teams, tv)
		if a, ok := row(t.Name, t.Elective, false); ok {
			rows = append(rows, a)
			if tg, ok := row(t.Name+" target", t.Elective, true); ok {
				rows = append(rows, tg)
			}
		}
	}
	if a, ok := row("Organisation", r.Mix.Elective, false); ok {
		rows = append(rows, a)
		if tg, ok := row("Organisation target", r.Mix.Elective, true); ok {
			rows = append(rows, tg)
		}
	}
	for i := range rows { // every row as long as the segments
		for len(rows[i].Values) < len(sb.Segments) {
			rows[i].Values = append(rows[i].Values, 0)
		}
	}
	if len(rows) > 0 {
		sb.Rows = rows
		v.Mix = chart.StackedBar(sb)
	}
	return s.page(c, http.StatusOK, "org", fmt.Sprintf("%s: the week %s", v.Org.Name, v.Week), "org", v)
}

func (s *server) orgCSV(c echo.Context) error {
	r, _, err := s.orgWeek(c)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := r.WriteCSV(&b); err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="org-`+r.Org+"-"+r.Week+`.csv"`)
	return c.Blob(http.StatusOK, "text/csv; charset=utf-8", b.Bytes())
}
