package web

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
	"slicelab/tracking"
)

// decode reads a JSON body into v, or says what is wrong with it.
func decode(c echo.Context, v any) error {
	dec := json.NewDecoder(c.Request().Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &experiments.ValidationError{Fields: map[string]string{"body": "not valid JSON for this request: " + err.Error()}}
	}
	return nil
}

func (s *server) createObjective(c echo.Context) error {
	team, err := teamParam(c)
	if err != nil {
		return err
	}
	var in okr.ObjectiveInput
	if err := decode(c, &in); err != nil {
		return err
	}
	o, err := s.OKR.CreateObjective(c.Request().Context(), team.ID, in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, o)
}

func (s *server) listObjectives(c echo.Context) error {
	team, err := teamParam(c)
	if err != nil {
		return err
	}
	objs, err := s.OKR.Objectives(c.Request().Context(), team.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"objectives": objs})
}

func (s *server) createKeyResult(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	var in okr.KeyResultInput
	if err := decode(c, &in); err != nil {
		return err
	}
	k, err := s.OKR.CreateKeyResult(c.Request().Context(), principal(c).Team.ID, id, in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, k)
}

func (s *server) checkIn(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	var in okr.CheckInInput
	if err := decode(c, &in); err != nil {
		return err
	}
	ci, err := s.OKR.CheckIn(c.Request().Context(), principal(c).Team.ID, id, in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, ci)
}

func (s *server) linkExperiment(c echo.Context) error {
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
	if err := s.OKR.LinkExperiment(c.Request().Context(), principal(c).Team.ID, id, in.ExperimentID); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// ingestEvents takes one event object or an array of them.
func (s *server) ingestEvents(c echo.Context) error {
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
	n, err := s.OKR.IngestEvents(c.Request().Context(), team.ID, in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]int{"accepted": n})
}

// weeklyReport answers the review as JSON, or as CSV for Accept: text/csv or ?format=csv.
func (s *server) weeklyReport(c echo.Context) error {
	team, err := teamParam(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	week, err := s.reportWeek(c, team)
	if err != nil {
		return err
	}
	s.clicksCounted(c)
	r, err := s.OKR.WeeklyReview(ctx, team, week)
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
func (s *server) reportWeek(c echo.Context, team experiments.Team) (tracking.Week, error) {
	if v := c.QueryParam("week"); v != "" {
		w, err := tracking.ParseWeek(v)
		if err != nil {
			return tracking.Week{}, &experiments.ValidationError{Fields: map[string]string{"week": err.Error()}}
		}
		return w, nil
	}
	return tracking.WeekOf(s.Now(), team.Location()), nil
}

func (s *server) updateTeam(c echo.Context) error {
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
	t, err := s.Experiments.SetTimeZone(c.Request().Context(), team.ID, *in.TimeZone)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]string{"team": t.Slug, "time_zone": t.TimeZone})
}

// addMember adds a person to the team: {"email","name","role"} (role viewer by default).
func (s *server) addMember(c echo.Context) error {
	team, err := teamParam(c)
	if err != nil {
		return err
	}
	var in struct {
		Email string `json:"email"`
		Name  string `json:"name"`
		Role  string `json:"role"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	m, err := s.Experiments.AddMember(c.Request().Context(), team.ID, experiments.MemberInput{Email: in.Email, Name: in.Name, Role: experiments.Role(in.Role)})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, m)
}

func (s *server) listMembers(c echo.Context) error {
	team, err := teamParam(c)
	if err != nil {
		return err
	}
	ms, err := s.Experiments.Members(c.Request().Context(), team.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"members": ms})
}
