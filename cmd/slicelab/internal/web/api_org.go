package web

import (
	"bytes"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"slicelab/experiments"
	"slicelab/tracking"
)

// needOrg requires an organisation's token: the organisation's routes read
// aggregates of every team, so a team's token is not enough.
func needOrg(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if p := principal(c); p.Org == nil || !p.OrgAdmin {
			return echo.NewHTTPError(http.StatusForbidden, "the organisation's routes need an organisation token (slicelab token create --org SLUG)")
		}
		return next(c)
	}
}

// OrgInfo is an organisation with its teams, as the API answers it.
type OrgInfo struct {
	Org   experiments.Org `json:"org"`
	Teams []TeamSettings  `json:"teams"`
}

type orgMemberList struct {
	Members []experiments.OrgMember `json:"members"`
}

func (s *server) getOrg(c echo.Context) error {
	org := *principal(c).Org
	teams, err := s.Experiments.OrgTeams(c.Request().Context(), org.ID)
	if err != nil {
		return err
	}
	out := OrgInfo{Org: org, Teams: []TeamSettings{}}
	for _, t := range teams {
		out.Teams = append(out.Teams, teamJSON(t))
	}
	return c.JSON(http.StatusOK, out)
}

func (s *server) orgMembers(c echo.Context) error {
	ms, err := s.Experiments.OrgMembers(c.Request().Context(), principal(c).Org.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, orgMemberList{Members: ms})
}

// orgReport answers the organisation's week as JSON, or as CSV for Accept:
// text/csv or ?format=csv; ?week= defaults to this week (UTC).
func (s *server) orgReport(c echo.Context) error {
	org := *principal(c).Org
	week := tracking.WeekOf(s.Now(), nil)
	if v := c.QueryParam("week"); v != "" {
		w, err := tracking.ParseWeek(v)
		if err != nil {
			return &experiments.ValidationError{Fields: map[string]string{"week": err.Error()}}
		}
		week = w
	}
	r, err := s.OKR.OrgWeeklyReport(c.Request().Context(), org, week)
	if err != nil {
		return err
	}
	return answerReport(c, r, func(b *bytes.Buffer) error { return r.WriteCSV(b) }, "org-"+org.Slug+"-"+r.Week)
}

// answerReport answers a report as JSON or, when asked, as CSV.
func answerReport(c echo.Context, v any, writeCSV func(*bytes.Buffer) error, name string) error {
	format := c.QueryParam("format")
	if format == "" && strings.Contains(c.Request().Header.Get(echo.HeaderAccept), "text/csv") {
		format = "csv"
	}
	switch format {
	case "", "json":
		return c.JSON(http.StatusOK, v)
	case "csv":
		var b bytes.Buffer
		if err := writeCSV(&b); err != nil {
			return err
		}
		c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="`+name+`.csv"`)
		return c.Blob(http.StatusOK, "text/csv; charset=utf-8", b.Bytes())
	}
	return &experiments.ValidationError{Fields: map[string]string{"format": "must be json or csv"}}
}
