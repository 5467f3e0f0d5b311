package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"slicelab/experiments"
	"slicelab/okr"
)

// okrRoutes registers the OKR part of the API.
func (a *api) okrRoutes(g *echo.Group) {
	editor := need(experiments.RoleEditor)
	g.POST("/teams/:team/objectives", a.createObjective, editor)
	g.GET("/teams/:team/objectives", a.listObjectives)
	g.POST("/objectives/:id/key-results", a.createKeyResult, editor)
	g.POST("/key-results/:id/check-ins", a.checkIn, editor)
	g.POST("/key-results/:id/experiments", a.linkExperiment, editor)
	g.POST("/teams/:team/events", a.ingestEvents, editor)
	g.GET("/teams/:team/reports/weekly", a.weeklyReport)
	g.PATCH("/teams/:team", a.updateTeam, need(experiments.RoleAdmin))
}

// decode reads a JSON body into v, or says what is wrong with it.
func decode(c echo.Context, v any) error {
	dec := json.NewDecoder(c.Request().Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &experiments.ValidationError{Fields: map[string]string{"body": "not valid JSON for this request: " + err.Error()}}
	}
	return nil
}

func (a *api) createObjective(c echo.Context) error {
	team, err := teamParam(c)
	if err != nil {
		return err
	}
	var in okr.ObjectiveInput
	if err := decode(c, &in); err != nil {
		return err
	}
	o, err := a.okr.CreateObjective(c.Request().Context(), team.ID, in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, o)
}

func (a *api) listObjectives(c echo.Context) error {
	team, err := teamParam(c)
	if err != nil {
		return err
	}
	objs, err := a.okr.Objectives(c.Request().Context(), team.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"objectives": objs})
}

func (a *api) createKeyResult(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	var in okr.KeyResultInput
	if err := decode(c, &in); err != nil {
		return err
	}
	k, err := a.okr.CreateKeyResult(c.Request().Context(), principal(c).Team.ID, id, in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, k)
}

func (a *api) checkIn(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	var in okr.CheckInInput
	if err := decode(c, &in); err != nil {
		return err
	}
	ci, err := a.okr.CheckIn(c.Request().Context(), principal(c).Team.ID, id, in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, ci)
}

func (a *api) linkExperiment(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	var in struct {
		ExperimentID uuid.UUID `json:"experiment_id"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	if err := a.okr.LinkExperiment(c.Request().Context(), principal(c).Team.ID, id, in.ExperimentID); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// ingestEvents takes one event object or an array of them.
func (a *api) ingestEvents(c echo.Context) error {
	team, err := teamParam(c)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return err
	}
	var in []okr.EventInput
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		body = append(append([]byte{'['}, trimmed...), ']')
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return &experiments.ValidationError{Fields: map[string]string{"body": `expected an event {"name","contact_id" or "email","value","time"} or an array of them: ` + err.Error()}}
	}
	n, err := a.okr.IngestEvents(c.Request().Context(), team.ID, in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]int{"accepted": n})
}

// weeklyReport answers the review as JSON, or as CSV for Accept: text/csv or ?format=csv.
func (a *api) weeklyReport(c echo.Context) error {
	team, err := teamParam(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	week, err := a.reportWeek(c, team)
	if err != nil {
		return err
	}
	r, err := a.okr.WeeklyReview(ctx, team, week)
	if err != nil {
		return err
	}
	format := c.QueryParam("format")
	if format == "" && strings.Contains(c.Request().Header.Get(echo.HeaderAccept), "text/csv") {
		format = "csv"
	}
	switch format {
	case "", "json":
		return c.JSON(http.StatusOK, r)
	case "csv":
		var b bytes.Buffer
		if err := r.WriteCSV(&b); err != nil {
			return err
		}
		c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="review-`+team.Slug+"-"+r.Week+`.csv"`)
		return c.Blob(http.StatusOK, "text/csv; charset=utf-8", b.Bytes())
	}
	return &experiments.ValidationError{Fields: map[string]string{"format": "must be json or csv"}}
}

// reportWeek is ?week=YYYY-Www, or the current week in the team's time zone.
func (a *api) reportWeek(c echo.Context, team experiments.Team) (okr.Week, error) {
	if v := c.QueryParam("week"); v != "" {
		w, err := okr.ParseWeek(v)
		if err != nil {
			return okr.Week{}, &experiments.ValidationError{Fields: map[string]string{"week": err.Error()}}
		}
		return w, nil
	}
	loc, err := a.okr.Location(c.Request().Context(), team.ID)
	if err != nil {
		return okr.Week{}, err
	}
	return okr.WeekOf(a.now(), loc), nil
}

func (a *api) updateTeam(c echo.Context) error {
	team, err := teamParam(c)
	if err != nil {
		return err
	}
	var in struct {
		TimeZone *string `json:"time_zone"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	if in.TimeZone == nil {
		return &experiments.ValidationError{Fields: map[string]string{"time_zone": "is required (the only setting that can be changed here)"}}
	}
	if err := a.okr.SetTimeZone(c.Request().Context(), team.ID, *in.TimeZone); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]string{"team": team.Slug, "time_zone": *in.TimeZone})
}
