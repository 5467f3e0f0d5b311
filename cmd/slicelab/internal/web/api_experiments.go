package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"

	"mime"
	"net/http"
	"strconv"

	"github.com/google/uuid"

	"github.com/labstack/echo/v4"

	"slicelab/experiments"
)

func (s *server) importContacts(c echo.Context) error {
	team, err := teamParam(c)
	if err != nil {
		return err
	}
	ct, _, _ := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	var res experiments.ImportResult
	switch ct { // the body is read as it arrives, a row at a time
	case "text/csv", "application/csv":
		res, err = s.Experiments.ImportContactsCSV(c.Request().Context(), team.ID, c.Request().Body)
	case "application/json", "":
		res, err = s.Experiments.ImportContactsJSON(c.Request().Context(), team.ID, c.Request().Body)
	default:
		return echo.NewHTTPError(http.StatusUnsupportedMediaType, "send contacts as text/csv or as a JSON array (application/json)")
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}

func (s *server) listContacts(c echo.Context) error {
	team, err := teamParam(c)
	if err != nil {
		return err
	}
	limit := 100
	if v := c.QueryParam("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > 1000 {
			return &experiments.ValidationError{Fields: map[string]string{"limit": "must be a whole number from 1 to 1000"}}
		}
	}
	page, err := s.Experiments.ListContacts(c.Request().Context(), team.ID, c.QueryParam("after"), limit)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, page)
}

func (s *server) createExperiment(c echo.Context) error {
	team, err := teamParam(c)
	if err != nil {
		return err
	}
	var in experiments.CreateInput
	if err := json.NewDecoder(c.Request().Body).Decode(&in); err != nil {
		return &experiments.ValidationError{Fields: map[string]string{"body": "not a valid JSON experiment: " + err.Error()}}
	}
	e, err := s.Experiments.Create(c.Request().Context(), team.ID, in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, e)
}

func (s *server) listExperiments(c echo.Context) error {
	team, err := teamParam(c)
	if err != nil {
		return err
	}
	list, err := s.Experiments.List(c.Request().Context(), team.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, experimentList{Experiments: list})
}

func (s *server) getExperiment(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	e, err := s.Experiments.Get(c.Request().Context(), principal(c).Team.ID, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, e)
}

// launchExperiment launches now, or at "at" (RFC 3339) when the body gives a future time.
func (s *server) launchExperiment(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	var body launchRequest
	if c.Request().ContentLength != 0 {
		if err := json.NewDecoder(c.Request().Body).Decode(&body); err != nil && !errors.Is(err, io.EOF) {
			return &experiments.ValidationError{Fields: map[string]string{"at": "must be an RFC 3339 time such as 2026-12-01T09:00:00Z: " + err.Error()}}
		}
	}
	e, err := s.Experiments.Launch(c.Request().Context(), principal(c).Team.ID, id, body.At)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, e)
}

// lifecycle answers pause, resume and cancel.
func (s *server) lifecycle(c echo.Context, do func(context.Context, uuid.UUID, uuid.UUID) (*experiments.Experiment, error)) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	e, err := do(c.Request().Context(), principal(c).Team.ID, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, e)
}

func (s *server) pauseExperiment(c echo.Context) error  { return s.lifecycle(c, s.Experiments.Pause) }
func (s *server) resumeExperiment(c echo.Context) error { return s.lifecycle(c, s.Experiments.Resume) }
func (s *server) cancelExperiment(c echo.Context) error { return s.lifecycle(c, s.Experiments.Cancel) }

func (s *server) experimentResults(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	s.clicksCounted(c)
	r, err := s.Experiments.Results(c.Request().Context(), principal(c).Team.ID, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}

// previewExperiment renders ?variant= (id or name; default the control) for
// ?contact= (id or email; default the team's first contact).
func (s *server) previewExperiment(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	p, err := s.Experiments.Preview(c.Request().Context(), principal(c).Team.ID, id, c.QueryParam("variant"), c.QueryParam("contact"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, p)
}

// sendTest sends one variant, rendered for a contact, to {"to"} as a test.
func (s *server) sendTest(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	var body testRequest
	if err := json.NewDecoder(c.Request().Body).Decode(&body); err != nil {
		return &experiments.ValidationError{Fields: map[string]string{"body": "expected {\"to\", \"variant\", \"contact\"}: " + err.Error()}}
	}
	if s.Sender == nil {
		return echo.NewHTTPError(http.StatusServiceUnavailable, "this process does not send mail")
	}
	p, err := s.Sender.SendTest(c.Request().Context(), principal(c).Team.ID, id, body.Variant, body.Contact, body.To)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, testSent{SentTo: body.To, Preview: p})
}

// updateExperiment changes a draft: the body holds the fields to change, in
// the shape of the create request (a field sent replaces the stored one;
// "variants" replaces all variants). Launched experiments are read-only (409).
func (s *server) updateExperiment(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	ctx, team := c.Request().Context(), principal(c).Team.ID
	var patch map[string]json.RawMessage
	if err := json.NewDecoder(c.Request().Body).Decode(&patch); err != nil || patch == nil {
		return &experiments.ValidationError{Fields: map[string]string{"body": "expected a JSON object with the fields to change"}}
	}
	cur, err := s.Experiments.DraftInput(ctx, team, id)
	if err != nil {
		return err
	}
	merged := map[string]json.RawMessage{}
	if b, err := json.Marshal(cur); err != nil {
		return err
	} else if err := json.Unmarshal(b, &merged); err != nil {
		return err
	}
	maps.Copy(merged, patch)
	b, err := json.Marshal(merged)
	if err != nil {
		return err
	}
	var in experiments.CreateInput
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return &experiments.ValidationError{Fields: map[string]string{"body": "not a valid change of an experiment: " + err.Error()}}
	}
	e, err := s.Experiments.UpdateDraft(ctx, team, id, in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, e)
}

// deleteExperiment deletes a draft (204); launched experiments are cancelled instead (409).
func (s *server) deleteExperiment(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	if err := s.Experiments.DeleteDraft(c.Request().Context(), principal(c).Team.ID, id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
