package web

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"slicelab/experiments"
	"slicelab/okr"
	"slicelab/tracking"
)

// decodePatch reads a JSON object into v and also returns its fields as
// sent, so that a handler can tell a null (remove) from a field left out.
func decodePatch(c echo.Context, v any) (map[string]json.RawMessage, error) {
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return nil, &experiments.ValidationError{Fields: map[string]string{"body": "not valid JSON for this request: " + err.Error()}}
	}
	var present map[string]json.RawMessage
	if err := json.Unmarshal(body, &present); err != nil {
		return nil, &experiments.ValidationError{Fields: map[string]string{"body": "expected a JSON object"}}
	}
	return present, nil
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
	return c.JSON(http.StatusOK, objectiveList{Objectives: objs})
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
	ci, err := s.OKR.CheckIn(c.Request().Context(), principal(c).Team.ID, id, in, author(principal(c)))
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
	var in linkRequest
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
	return c.JSON(http.StatusAccepted, eventsAccepted{Accepted: n})
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
	return answerReport(c, r, func(b *bytes.Buffer) error { return r.WriteCSV(b) }, "review-"+team.Slug+"-"+r.Week)
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

// updateTeam changes a team's settings: {"name","time_zone","mail_from","reply_to"}.
func (s *server) updateTeam(c echo.Context) error {
	team, err := teamParam(c)
	if err != nil {
		return err
	}
	var p experiments.TeamPatch
	if err := decode(c, &p); err != nil {
		return err
	}
	t, err := s.Experiments.UpdateTeam(c.Request().Context(), team.ID, p)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, teamJSON(t))
}

func (s *server) getTeam(c echo.Context) error {
	team, err := teamParam(c)
	if err != nil {
		return err
	}
	t, err := s.Experiments.Team(c.Request().Context(), team.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, teamJSON(t))
}

// teamJSON is a team's settings as the API answers them.
func teamJSON(t experiments.Team) TeamSettings {
	return TeamSettings{Team: t.Slug, Slug: t.Slug, Name: t.Name, TimeZone: t.TimeZone, MailFrom: t.From(""), ReplyTo: t.ReplyTo, CreatedAt: t.CreatedAt}
}

// addMember adds a person to the team: {"email","name","role"} (role viewer by default).
func (s *server) addMember(c echo.Context) error {
	team, err := teamParam(c)
	if err != nil {
		return err
	}
	var in memberRequest
	if err := decode(c, &in); err != nil {
		return err
	}
	m, err := s.Experiments.AddMember(c.Request().Context(), team.ID, experiments.MemberInput{Email: in.Email, Name: in.Name,
		Role: experiments.Role(in.Role), Function: in.Function})
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
	return c.JSON(http.StatusOK, memberList{Members: ms})
}

func (s *server) getObjective(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	o, err := s.OKR.Objective(c.Request().Context(), principal(c).Team.ID, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, o)
}

// updateObjective changes {"title","period" or "start"/"end","kind"}.
func (s *server) updateObjective(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	var p okr.ObjectivePatch
	if err := decode(c, &p); err != nil {
		return err
	}
	o, err := s.OKR.UpdateObjective(c.Request().Context(), principal(c).Team.ID, id, p)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, o)
}

// archiveObjective archives an objective (its data is kept): 204.
func (s *server) archiveObjective(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	if err := s.OKR.ArchiveObjective(c.Request().Context(), principal(c).Team.ID, id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *server) getKeyResult(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	k, err := s.OKR.KeyResult(c.Request().Context(), principal(c).Team.ID, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, k)
}

// updateKeyResult changes a key result; "start": null or "target": null removes them.
func (s *server) updateKeyResult(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	var p okr.KeyResultPatch
	present, err := decodePatch(c, &p)
	if err != nil {
		return err
	}
	p.ClearStart = string(present["start"]) == "null"
	p.ClearTarget = string(present["target"]) == "null"
	k, err := s.OKR.UpdateKeyResult(c.Request().Context(), principal(c).Team.ID, id, p)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, k)
}

// archiveKeyResult archives a key result (its check-ins are kept): 204.
func (s *server) archiveKeyResult(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	if err := s.OKR.ArchiveKeyResult(c.Request().Context(), principal(c).Team.ID, id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// listTokens lists the team's API tokens (never the tokens themselves).
func (s *server) listTokens(c echo.Context) error {
	team, err := teamParam(c)
	if err != nil {
		return err
	}
	toks, err := s.Experiments.Tokens(c.Request().Context(), team.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, tokenList{Tokens: toks})
}

// revokeToken revokes one of the team's tokens for good.
func (s *server) revokeToken(c echo.Context) error {
	team, err := teamParam(c)
	if err != nil {
		return err
	}
	id, err := idParam(c)
	if err != nil {
		return err
	}
	k, err := s.Experiments.RevokeToken(c.Request().Context(), team.ID, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, k)
}

// author is who a principal is, for what it records.
func author(p experiments.Principal) okr.Author {
	a := okr.Author{Name: p.Author}
	if p.User != uuid.Nil {
		u := p.User
		a.UserID = &u
	}
	return a
}
